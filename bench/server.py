"""Real servers started by the benchmarks: ``kysy serve`` (or uvicorn with workers) and ``chroma run``."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)

BIN = Path(sys.executable).parent

# Answers must be extractive and never rate-limited while we measure the server itself.
BENCH_ENV = {
    "KYSY_RATE_LIMIT_PER_MINUTE": "0",
    "KYSY_MAX_CONCURRENCY": "64",
    "KYSY_LLM_BASE_URL": "",
    "KYSY_CHROMA_URL": "",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    """A started server: where it listens, its process id and how long it took to become ready."""

    url: str
    pid: int
    startup_s: float
    log: Path


def _wait_ready(process: subprocess.Popen[bytes], url: str, started: float, timeout_s: float, log: Path) -> float:
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < timeout_s:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise RuntimeError(f"server not ready at {url} after {timeout_s} s: {log.read_text()[-2000:]}")


@contextmanager
def _process(argv: Sequence[str], env: Mapping[str, str], ready_url: str, log: Path,
             timeout_s: float) -> Iterator[tuple[int, float]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT)
        try:
            startup = _wait_ready(process, ready_url, started, timeout_s, log)
            yield process.pid, startup
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def kysy_server(data_dir: Path, log_dir: Path, *, workers: int = 0, env: Mapping[str, str] | None = None,
                timeout_s: float = 120.0) -> Iterator[RunningServer]:
    """Start ``kysy serve`` on 127.0.0.1 (or, with ``workers`` > 0, uvicorn with that many worker processes).

    Yields once ``/readyz`` answers 200; ``startup_s`` is the time from process start to that answer.
    """
    port = free_port()
    full_env = {**BENCH_ENV, "KYSY_DATA_DIR": str(data_dir), **(env or {})}
    if workers:
        argv = [str(BIN / "uvicorn"), "--factory", "assistant.api:create_app", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    else:
        argv = [str(BIN / "kysy"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = log_dir / f"server-{port}.log"
    with _process(argv, full_env, f"{url}/readyz", log, timeout_s) as (pid, startup):
        yield RunningServer(url, pid, startup, log)


@contextmanager
def chroma_server(path: Path, log_dir: Path, timeout_s: float = 60.0) -> Iterator[RunningServer]:
    """Start ``chroma run --path PATH`` on 127.0.0.1; yields once its heartbeat answers."""
    port = free_port()
    argv = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = log_dir / f"chroma-{port}.log"
    with _process(argv, {"ANONYMIZED_TELEMETRY": "False"}, f"{url}/api/v2/heartbeat", log, timeout_s) as (pid, s):
        yield RunningServer(url, pid, s, log)
