"""The load client, run as its own process (``python -m bench.client``) so it never shares the server's CPU time slice or GIL.

Modes print one JSON object on stdout:

- ``seq``: N sequential ``POST /api/chat`` (JSON) requests, latency of each;
- ``load``: C concurrent clients (asyncio tasks, one connection each) for S seconds;
- ``sse``: N sequential streamed requests, time to the first SSE event and to the end.

Questions rotate through a fixed set so no cache can answer a repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "eval" / "questions.fi.jsonl"


def load_questions(count: int, path: Path = QUESTIONS_FILE) -> list[str]:
    """``count`` distinct questions spread evenly over the evaluation set."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = list(dict.fromkeys(str(row["question"]) for row in rows))
    if count >= len(questions):
        return questions
    step = len(questions) / count
    return [questions[int(i * step)] for i in range(count)]


def _ok(response: httpx.Response) -> bool:
    return response.status_code == 200 and "answer" in response.json()


def run_sequential(url: str, questions: list[str], n: int, warmup: int) -> dict[str, object]:
    """N sequential JSON requests over one keep-alive connection."""
    latencies: list[float] = []
    errors: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(warmup + n):
            body = {"question": questions[i % len(questions)]}
            started = time.perf_counter()
            try:
                response = client.post("/api/chat", json=body)
                ok = _ok(response)
                error = "" if ok else f"status {response.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            if i >= warmup:
                latencies.append(elapsed)
                if not ok:
                    errors.append(error)
    return {"latencies_ms": latencies, "errors": errors}


async def _worker(client: httpx.AsyncClient, questions: list[str], offset: int, deadline: float,
                  latencies: list[float], errors: list[str]) -> None:
    i = offset
    while time.perf_counter() < deadline:
        body = {"question": questions[i % len(questions)]}
        i += 1
        started = time.perf_counter()
        try:
            response = await client.post("/api/chat", json=body)
            if not _ok(response):
                errors.append(f"status {response.status_code}")
                continue
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append((time.perf_counter() - started) * 1000)


async def _load(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(
            _worker(client, questions, k * 7, deadline, latencies, errors) for k in range(clients)
        ))
        elapsed = time.perf_counter() - started
    return {
        "latencies_ms": latencies,
        "errors": errors[:20],
        "error_count": len(errors),
        "completed": len(latencies),
        "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed if elapsed else 0.0,
    }


def run_load(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, object]:
    """C concurrent clients, each sending its next question as soon as the last answer arrived."""
    return asyncio.run(_load(url, questions, clients, seconds))


def _stream_once(client: httpx.Client, question: str) -> tuple[float, float, bool]:
    started = time.perf_counter()
    first = float("nan")
    done = False
    headers = {"Accept": "text/event-stream"}
    with client.stream("POST", "/api/chat", json={"question": question}, headers=headers) as response:
        if response.status_code != 200:
            return first, (time.perf_counter() - started) * 1000, False
        for line in response.iter_lines():
            if line.startswith(("event:", "data:")) and first != first:
                first = (time.perf_counter() - started) * 1000
            if line.strip() == "event: done":
                done = True
    return first, (time.perf_counter() - started) * 1000, done


def run_sse(url: str, questions: list[str], n: int, warmup: int) -> dict[str, object]:
    """N sequential streamed requests: time to the first event and to the end of the stream."""
    first_ms: list[float] = []
    total_ms: list[float] = []
    errors: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(warmup + n):
            try:
                first, total, done = _stream_once(client, questions[i % len(questions)])
            except httpx.HTTPError as exc:
                first, total, done = float("nan"), float("nan"), False
                errors.append(f"{type(exc).__name__}: {exc}")
            if i < warmup:
                continue
            if done:
                first_ms.append(first)
                total_ms.append(total)
            elif not errors or not errors[-1].startswith(("Connect", "Read")):
                errors.append("stream ended without a done event")
    return {"first_event_ms": first_ms, "total_ms": total_ms, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    """Run one mode and print its JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("mode", choices=["seq", "load", "sse"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("-n", type=int, default=200, help="requests (seq, sse)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    questions = load_questions(args.questions)
    if args.mode == "seq":
        result = run_sequential(args.url, questions, args.n, args.warmup)
    elif args.mode == "sse":
        result = run_sse(args.url, questions, args.n, args.warmup)
    else:
        run_sequential(args.url, questions, args.warmup, 0)
        result = run_load(args.url, questions, args.clients, args.seconds)
    result["questions"] = len(questions)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
