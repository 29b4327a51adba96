"""HTTP benchmarks against a real ``kysy serve``: start-up, sequential latency, throughput, SSE, memory.

The load comes from ``python -m bench.client`` in a separate process, so the client's work never
runs on the server's interpreter.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.client import load_questions
from bench.machine import process_rss_mb
from bench.report import median, percentile
from bench.server import kysy_server

logger = logging.getLogger(__name__)


def run_client(mode: str, url: str, *args: str) -> dict[str, object]:
    """Run the load client in its own process and return its JSON result."""
    argv = [sys.executable, "-m", "bench.client", mode, "--url", url, *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"bench client {mode} failed: {done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


@dataclass
class HttpPlan:
    """How much to measure: requests, clients, seconds and how many cold starts."""

    sequential: int = 300
    sse: int = 100
    clients: int = 16
    seconds: float = 20.0
    starts: int = 3
    questions: int = 40
    workers: int = 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class HttpResult:
    """Everything one server measured (raw samples in ms, throughput in requests/s)."""

    startup_s: list[float]
    first_question_ms: float
    sequential_ms: list[float]
    sequential_errors: int
    load: dict[str, object]
    sse_first_ms: list[float]
    sse_total_ms: list[float]
    sse_errors: int
    rss_mb: float
    peak_rss_mb: float

    def summary(self) -> dict[str, float]:
        """The figures the report shows."""
        load_ms = [float(x) for x in self.load.get("latencies_ms", [])]  # type: ignore[attr-defined]
        return {
            "sequential_p50_ms": median(self.sequential_ms),
            "sequential_p95_ms": percentile(self.sequential_ms, 95),
            "sequential_n": len(self.sequential_ms),
            "sequential_errors": self.sequential_errors,
            "load_requests_per_s": float(self.load.get("requests_per_s", 0.0)),  # type: ignore[arg-type]
            "load_completed": float(self.load.get("completed", 0)),  # type: ignore[arg-type]
            "load_errors": float(self.load.get("error_count", 0)),  # type: ignore[arg-type]
            "load_p50_ms": median(load_ms),
            "load_p95_ms": percentile(load_ms, 95),
            "sse_n": len(self.sse_first_ms),
            "sse_first_p50_ms": median(self.sse_first_ms),
            "sse_first_p95_ms": percentile(self.sse_first_ms, 95),
            "sse_total_p50_ms": median(self.sse_total_ms),
            "sse_errors": self.sse_errors,
            "rss_mb": self.rss_mb,
            "peak_rss_mb": self.peak_rss_mb,
            "first_question_ms": self.first_question_ms,
            "startup_median_s": median(self.startup_s),
            "startup_max_s": max(self.startup_s),
        }


def measure_startup(data_dir: Path, log_dir: Path, plan: HttpPlan) -> list[float]:
    """Seconds from process start to ``/readyz`` 200, once per cold start."""
    times = []
    for _ in range(plan.starts):
        with kysy_server(data_dir, log_dir, workers=plan.workers, env=plan.env) as server:
            times.append(server.startup_s)
    return times


def first_question_ms(url: str, question: str) -> float:
    """Milliseconds a server takes over the first question it is asked once ``/readyz`` says it is ready:
    what its first user waits."""
    started = time.perf_counter()
    response = httpx.post(f"{url}/api/chat", json={"question": question}, timeout=120)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure_http(data_dir: Path, log_dir: Path, plan: HttpPlan,
                 progress: Callable[[str], None] = lambda _: None) -> HttpResult:
    """Start a server on ``data_dir`` and run the sequential, concurrent and streaming clients."""
    q = ["--questions", str(plan.questions)]
    startups = measure_startup(data_dir, log_dir, plan) if plan.starts > 1 else []
    with kysy_server(data_dir, log_dir, workers=plan.workers, env=plan.env) as server:
        startups.append(server.startup_s)
        first = first_question_ms(server.url, load_questions(1)[0])
        progress(f"server ready in {server.startup_s:.2f} s at {server.url}, its first answer in {first:.0f} ms; "
                 f"{plan.sequential} sequential requests")
        seq = run_client("seq", server.url, "-n", str(plan.sequential), *q)
        progress(f"{plan.clients} clients for {plan.seconds:g} s")
        load = run_client("load", server.url, "--clients", str(plan.clients), "--seconds", str(plan.seconds), *q)
        progress(f"{plan.sse} streamed requests")
        sse = run_client("sse", server.url, "-n", str(plan.sse), *q)
        rss, peak = process_rss_mb(server.pid)
    return HttpResult(
        startup_s=startups,
        first_question_ms=first,
        sequential_ms=list(seq["latencies_ms"]),  # type: ignore[call-overload]
        sequential_errors=len(seq["errors"]),  # type: ignore[arg-type]
        load=load,
        sse_first_ms=list(sse["first_event_ms"]),  # type: ignore[call-overload]
        sse_total_ms=list(sse["total_ms"]),  # type: ignore[call-overload]
        sse_errors=len(sse["errors"]),  # type: ignore[arg-type]
        rss_mb=rss,
        peak_rss_mb=peak,
    )


def measure_memory(data_dir: Path, log_dir: Path, questions: list[str], env: dict[str, str] | None = None,
                   ) -> dict[str, float]:
    """Start a server on ``data_dir``, ask every question once, and read its resident memory."""
    with kysy_server(data_dir, log_dir, env=env, timeout_s=600) as server:
        after_start, _ = process_rss_mb(server.pid)
        latencies = []
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for question in questions:
                response = client.post("/api/chat", json={"question": question})
                response.raise_for_status()
                latencies.append(response.elapsed.total_seconds() * 1000)
        rss, peak = process_rss_mb(server.pid)
    return {"startup_s": server.startup_s, "rss_after_start_mb": after_start, "rss_mb": rss,
            "peak_rss_mb": peak, "chat_p50_ms": median(latencies), "chat_p95_ms": percentile(latencies, 95)}
