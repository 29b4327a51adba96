"""``kysy serve`` and ``kysy ingest`` as separate processes, as an operator runs them (for tests of locks and signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from kysy.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def kysy_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a ``kysy`` process ``settings``' data directory, cache and corpus."""
    env = {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_CORPUS_DIR": str(settings.corpus_dir),
           "KYSY_RATE_LIMIT_PER_MINUTE": "0"}
    if settings.embed_cache:
        env["KYSY_EMBED_CACHE"] = str(settings.embed_cache)
    return {**env, **extra}


def kysy(settings: Settings, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``kysy <args>`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=kysy_env(settings, **extra), cwd=ROOT,
        capture_output=True, text=True, timeout=timeout,
    )


@dataclass
class Served:
    """A running ``kysy serve``: its base URL and process."""

    base: str
    process: subprocess.Popen[str]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        """Send ``sig`` and wait for the process to end; returns the seconds it took."""
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started


@contextmanager
def kysy_serve(settings: Settings, *, ready: str = "/healthz", **extra: str) -> Iterator[Served]:
    """``kysy serve`` on a free port, yielded once ``ready`` answers 200 (``/healthz``: up, ready or not;
    ``/readyz``: answering from an index); killed at the end if the test left it running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], env=kysy_env(settings, **extra), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}{ready}", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"kysy serve did not answer {ready}"
            time.sleep(0.1)
        yield Served(base, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
