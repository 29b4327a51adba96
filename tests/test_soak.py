"""Load and soak runs against ``kysy serve`` in its own process (marker ``soak``: ``make soak``, not CI).

50 concurrent streaming clients for a minute: no errors, bounded latency. Then a longer run: the
server's resident memory does not keep growing. The figures are logged at WARNING level.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kysy.settings import Settings
from tests.test_crash_recovery import kysy_serve

pytestmark = pytest.mark.soak
logger = logging.getLogger(__name__)

LOAD_CLIENTS, LOAD_S = 50, 60
SOAK_CLIENTS, SOAK_S, SAMPLE_S = 10, 300, 15
QUESTIONS = (
    "Mikä on Etelä-Karjalan väestöpohja?",
    "Ketkä rahoittavat yhdyspintaprojektia?",
    "Mitä yhdyspinnalla tarkoitetaan?",
    "Mitkä ovat Lapin pilotin painopisteet?",
    "Miten hyvinvoinnin edistämisessä tehdään yhteistyötä?",
    "Mitä yhdyspintafoorumit ovat?",
)


@dataclass
class Tally:
    """Latencies and errors collected by the client threads."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def p(self, share: float) -> float:
        """The ``share`` percentile of the latencies (seconds)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _stream_once(client: httpx.Client, base: str, question: str) -> str | None:
    """One SSE question; returns an error description or None."""
    with client.stream("POST", f"{base}/api/chat", json={"question": question},
                       headers={"Accept": "text/event-stream"}) as response:
        if response.status_code != 200:
            return f"status {response.status_code}"
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "done":
                return None if json.loads(line[5:])["citations"] is not None else "no citations"
            elif event == "error":
                return f"error event {line}"
    return "stream ended without a done event"


def _run_clients(base: str, clients: int, seconds: float, tally: Tally) -> None:
    questions = itertools.cycle(QUESTIONS)
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        with httpx.Client(timeout=120) as client:
            for _ in range(offset):
                next(questions)
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    error = _stream_once(client, base, next(questions))
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with tally.lock:
                    tally.latencies.append(time.perf_counter() - started)
                    if error:
                        tally.errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmdline and port.encode() in cmdline:
            return int(proc.name)
    raise AssertionError("kysy serve process not found")


def _sampling(pid: int, samples: list[float], stop: threading.Event) -> Callable[[], None]:
    def run() -> None:
        while not stop.wait(SAMPLE_S):
            samples.append(_rss_mib(pid))

    return run


@pytest.mark.timeout(LOAD_S + SOAK_S + 600)
def test_fifty_streaming_clients_then_a_long_soak(corpus_index: Settings) -> None:
    with kysy_serve(corpus_index) as base:
        pid = _server_pid(base)
        warm = Tally()
        _run_clients(base, 4, 5, warm)  # loads the model and fills caches before memory is measured
        load = Tally()
        _run_clients(base, LOAD_CLIENTS, LOAD_S, load)
        logger.warning(
            "load: %d clients, %d answers in %d s, p50 %.2f s, p95 %.2f s, max %.2f s, %d errors",
            LOAD_CLIENTS, len(load.latencies), LOAD_S, load.p(0.5), load.p(0.95), max(load.latencies),
            len(load.errors),
        )
        assert load.errors == [], load.errors[:5]
        assert load.p(0.95) < 60, "a hang guard, not a target"

        start_rss = _rss_mib(pid)
        samples: list[float] = [start_rss]
        stop = threading.Event()
        sampler = threading.Thread(target=_sampling(pid, samples, stop), daemon=True)
        sampler.start()
        soak = Tally()
        _run_clients(base, SOAK_CLIENTS, SOAK_S, soak)
        stop.set()
        sampler.join(timeout=SAMPLE_S + 5)
        end_rss = _rss_mib(pid)
        logger.warning(
            "soak: %d clients for %d s, %d answers, p95 %.2f s, %d errors; RSS start %.0f MiB, end %.0f MiB, "
            "max %.0f MiB",
            SOAK_CLIENTS, SOAK_S, len(soak.latencies), soak.p(0.95), len(soak.errors), start_rss, end_rss,
            max(samples),
        )
        assert soak.errors == [], soak.errors[:5]
        # Growth that levels off is caching; growth that keeps going is a leak.
        second_half = samples[len(samples) // 2 :]
        assert end_rss < start_rss * 1.25 + 50, samples
        assert max(second_half) - min(second_half) < 0.1 * start_rss + 50, samples
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
