"""``python -m bench.probe ROW``: probe a running ``kysy serve`` from outside, as a hostile or careless client would.

Each row is one measurement of the hardening issue's table, against a real server on 127.0.0.1
over a copy of the bundled corpus: ``reindex`` (re-indexing while clients ask), ``expensive``
(legal but expensive questions from one client), ``history`` (a large history), ``feedback``
(feedback floods), ``headers`` (huge headers, slow clients). Figures go to stdout as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.server import kysy_server

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
TOKEN = "probe-admin-token-" + "p" * 32


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3) if ordered else float("nan")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def closed_by_server(sockets: list[socket.socket], wait_s: float) -> int:
    """How many of ``sockets`` the server has closed (or answered, e.g. with its 408, and closed) within
    ``wait_s`` seconds each; every socket is closed here afterwards."""
    closed = 0
    for sock in sockets:
        sock.settimeout(wait_s)
        try:
            sock.recv(200)  # b"" (closed) or the 408 answer before the close
            closed += 1
        except TimeoutError:
            pass  # still open
        except OSError:
            closed += 1  # reset
        sock.close()
    return closed


def _long_document(words: int, seed: int) -> str:
    """A Finnish text of about ``words`` words: the corpus's sentences, shuffled (new text, new embeddings)."""
    sentences = [
        s.strip() + "." for path in sorted(CORPUS.glob("*.txt")) + sorted(CORPUS.glob("*.md"))
        for s in path.read_text(encoding="utf-8").replace("\n", " ").split(".") if len(s.split()) > 4
    ]
    rng = random.Random(seed)
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        out.append(rng.choice(sentences))
    paragraphs = [" ".join(out[i : i + 6]) for i in range(0, len(out), 6)]
    return f"Pitkä muistio {seed}\n\n" + "\n\n".join(paragraphs) + "\n"


@contextmanager
def _server(workdir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, int, Path]]:
    """A copy of the corpus, indexed, served by ``kysy serve`` with an admin token; yields (url, pid, corpus)."""
    corpus = workdir / "corpus"
    if not corpus.exists():
        shutil.copytree(CORPUS, corpus)
    data = workdir / "data"
    base_env = {
        "KYSY_CORPUS_DIR": str(corpus), "KYSY_ADMIN_TOKEN": TOKEN, "KYSY_RATE_LIMIT_PER_MINUTE": "60",
        "KYSY_EMBED_CACHE": str(workdir / "emb.sqlite"), **(env or {}),
    }
    if not (data / "index.sqlite").exists():
        from ingest.pipeline import ingest_paths
        from kysy.settings import Settings

        ingest_paths(Settings(data_dir=data, embed_cache=workdir / "emb.sqlite"), [corpus])
    with kysy_server(data, workdir / "logs", env=base_env) as server:
        yield server.url, server.pid, corpus


def _ask_loop(base: str, stop: threading.Event, latencies: list[float], outcomes: Counter[str],
              question: Callable[[], str] = lambda: QUESTION, headers: dict[str, str] | None = None) -> None:
    with httpx.Client(timeout=120, headers=headers or {}) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                outcomes[str(http.post(f"{base}/api/chat", json={"question": question()}).status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)


def _reindex_loop(base: str, corpus: Path, admin: dict[str, str]) -> dict[str, object]:
    """8 clients ask while the corpus is re-indexed over and over for 30 s."""
    latencies: list[float] = []
    stop, outcomes = threading.Event(), Counter[str]()
    clients = [threading.Thread(target=_ask_loop, args=(base, stop, latencies, outcomes)) for _ in range(8)]
    for thread in clients:
        thread.start()
    reindexes, deadline = 0, time.monotonic() + 30
    with httpx.Client(timeout=300, headers=admin) as http:
        while time.monotonic() < deadline:
            (corpus / "muistio.txt").write_text(f"Muistio\n\nKierros {reindexes}.\n", encoding="utf-8")
            outcomes[f"reindex {http.post(f'{base}/api/admin/reindex').status_code}"] += 1
            reindexes += 1
    stop.set()
    for thread in clients:
        thread.join()
    return {"reindexes": reindexes, "requests": len(latencies), **outcomes}


def _one_client(base: str, until: threading.Event) -> list[float]:
    """One client asking in a loop until ``until`` is set; every answer must be a 200."""
    latencies: list[float] = []
    stop, outcomes = threading.Event(), Counter[str]()
    thread = threading.Thread(target=_ask_loop, args=(base, stop, latencies, outcomes))
    thread.start()
    until.wait()
    stop.set()
    thread.join()
    if set(outcomes) != {"200"}:
        raise RuntimeError(f"failed requests: {outcomes}")
    return latencies


def _after(seconds: float) -> threading.Event:
    event = threading.Event()
    threading.Timer(seconds, event.set).start()
    return event


def probe_reindex(workdir: Path, long_only: bool = False) -> dict[str, object]:
    """Row 1: 8 clients while the corpus is re-indexed repeatedly for 30 s; then p95 during one long reindex."""
    result: dict[str, object] = {}
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with _server(workdir, {"KYSY_RATE_LIMIT_PER_MINUTE": "0"}) as (base, _, corpus):
        if not long_only:
            result["8 clients, reindexing for 30 s"] = _reindex_loop(base, corpus, admin)
        before = _one_client(base, _after(10))
        (corpus / "pitka-muistio.txt").write_text(_long_document(5800, int(time.time())), encoding="utf-8")
        done, took = threading.Event(), {}

        def reindex() -> None:
            started = time.perf_counter()
            httpx.post(f"{base}/api/admin/reindex", headers=admin, timeout=600).raise_for_status()
            took["s"] = round(time.perf_counter() - started, 1)
            done.set()

        worker = threading.Thread(target=reindex)
        worker.start()
        during = _one_client(base, done)
        worker.join()
        result["one client, before / during a long reindex"] = {
            "reindex of a 5,800-word document (s)": took["s"],
            "before p50/p95 (s)": [_pct(before, 0.5), _pct(before, 0.95)],
            "during p50/p95 (s)": [_pct(during, 0.5), _pct(during, 0.95)],
            "answers during": len(during),
        }
    return result


def _misspelt(rng: random.Random) -> str:
    return " ".join("".join(rng.choice("aeiouklmnprstyhv") for _ in range(rng.randint(6, 10))) for _ in range(400))[:2000]


def probe_expensive(workdir: Path) -> dict[str, object]:
    """Row 2: the cost of legal but expensive questions, and another client's latency while one sends them."""
    rng = random.Random(1)
    env = {"KYSY_PROXY_HEADERS": "true", "KYSY_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with _server(workdir, env) as (base, _, _):
        def timed(question: str, client: str) -> tuple[int, float]:
            started = time.perf_counter()
            response = httpx.post(f"{base}/api/chat", json={"question": question}, timeout=120,
                                  headers={"X-Forwarded-For": client})
            return response.status_code, round(time.perf_counter() - started, 3)

        costs = {
            "normal": timed(QUESTION, "10.0.0.1"),
            "a + U+0301 x 1999": timed("a" + "\u0301" * 1999, "10.0.0.2"),
            "400 misspelt words": timed(_misspelt(rng), "10.0.0.3"),
        }
        latencies: list[float] = []
        stop, outcomes = threading.Event(), Counter[str]()

        def other_client() -> None:  # a normal user: a question a second, within its own limit
            while not stop.is_set():
                status, seconds = timed(QUESTION, "10.0.0.7")
                outcomes[str(status)] += 1
                latencies.append(seconds)
                time.sleep(1)

        other = threading.Thread(target=other_client)
        other.start()
        heavy: Counter[str] = Counter()
        heavy_started = time.monotonic()
        while time.monotonic() - heavy_started < 30:  # one client at its limit: the next as soon as it may
            status, _ = timed(_misspelt(rng), "10.0.0.66")
            heavy[str(status)] += 1
            if status == 429:
                time.sleep(0.5)
        stop.set()
        other.join()
    return {
        "single questions (status, s)": costs,
        "expensive client, one after another for 30 s": dict(heavy),
        "other client, a question a second: p50/p95 (s)": [_pct(latencies, 0.5), _pct(latencies, 0.95)],
        "other client outcomes": dict(outcomes),
    }


def probe_history(workdir: Path) -> dict[str, object]:
    """Row 3: 20 turns of 220 kB, and 20 turns at the largest legal size."""
    with _server(workdir, {"KYSY_RATE_LIMIT_PER_MINUTE": "0"}) as (base, _, _):
        def send(per_turn: int) -> tuple[int, float]:
            text = ("Etelä-Karjalan väestöpohja ja yhdyspintatyö " * (per_turn // 40 + 1))[:per_turn]
            history = [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i in range(20)]
            started = time.perf_counter()
            status = httpx.post(f"{base}/api/chat", json={"question": "Entä Lapissa?", "history": history},
                                timeout=120).status_code
            return status, round(time.perf_counter() - started, 3)

        return {"20 turns x 11 kB (220 kB)": send(11_000), "20 turns x 2 kB (40 kB, the limit)": send(2_000)}


def probe_feedback(workdir: Path) -> dict[str, object]:
    """Row 4: 8 connections posting 248 kB feedback for 20 s; the admin listing afterwards."""
    with _server(workdir) as (base, pid, _):
        data = workdir / "data" / "feedback.sqlite"
        rss_before = _rss_mb(pid)
        outcomes: Counter[str] = Counter()
        deadline = time.monotonic() + 20

        def flood() -> None:
            big = "x" * 124_000
            with httpx.Client(timeout=60) as http:
                while time.monotonic() < deadline:
                    body = {"question": big, "answer": big, "rating": "down"}
                    outcomes[str(http.post(f"{base}/api/feedback", json=body).status_code)] += 1

        threads = [threading.Thread(target=flood) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        size = data.stat().st_size if data.exists() else 0
        started = time.perf_counter()
        listing = httpx.get(f"{base}/api/admin/feedback", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        return {
            "8 connections x 20 s of 248 kB feedback": dict(outcomes),
            "feedback database (MB)": round(size / 1e6, 2),
            "admin listing: status, bytes, s": [listing.status_code, len(listing.content),
                                                round(time.perf_counter() - started, 3)],
            "server RSS before / after (MB)": [rss_before, _rss_mb(pid)],
        }


def _raw(base: str, data: bytes, read: bool = True, timeout: float = 30) -> tuple[int, float]:
    host, port = base.removeprefix("http://").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server answered and closed before taking it all
            sock.sendall(data)
        reply = sock.recv(200) if read else b""
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return status, round(time.perf_counter() - started, 3)


def probe_headers(workdir: Path) -> dict[str, object]:
    """Row 5: a 40 MB header; 8 connections x 32 MB; 200 slow clients while another asks."""
    with _server(workdir, {"KYSY_RATE_LIMIT_PER_MINUTE": "0"}) as (base, pid, _):
        rss_before = _rss_mb(pid)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
        single = _raw(base, head + b"a" * 40_000_000 + b"\r\n\r\n")
        results: list[tuple[int, float]] = []
        threads = [threading.Thread(target=lambda: results.append(_raw(base, head + b"a" * 32_000_000 + b"\r\n\r\n")))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rss_after_big = _rss_mb(pid)
        host, port = base.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port)), timeout=60) for _ in range(200)]
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        latencies = []
        while time.monotonic() - started < 15:
            t = time.perf_counter()
            httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).raise_for_status()
            latencies.append(time.perf_counter() - t)
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")  # one byte at a time, never finishing the headers
            time.sleep(0.5)
        closed = closed_by_server(slow, 0.5)
        return {
            "40 MB header (status, s)": single,
            "8 x 32 MB headers (statuses)": sorted(status for status, _ in results),
            "server RSS before / after (MB)": [rss_before, rss_after_big],
            "200 slow clients: closed by the server within 15 s": closed,
            "another client meanwhile p50/p95 (s)": [_pct(latencies, 0.5), _pct(latencies, 0.95)],
        }


PROBES = {"reindex": probe_reindex, "reindex-long": lambda workdir: probe_reindex(workdir, long_only=True), "expensive": probe_expensive, "history": probe_history,
          "feedback": probe_feedback, "headers": probe_headers}


def main(argv: list[str] | None = None) -> int:
    """Run the named probes and print their figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__)
    parser.add_argument("rows", nargs="+", choices=sorted(PROBES))
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kysy-probe-"))
    figures = {}
    for row in args.rows:
        started = time.perf_counter()
        figures[row] = {**PROBES[row](workdir / row), "probe wall time (s)": round(time.perf_counter() - started, 1)}
        print(json.dumps({row: figures[row]}, ensure_ascii=False), flush=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
