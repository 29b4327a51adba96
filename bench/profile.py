"""Profile answering: ``python -m bench.profile DATA_DIR`` prints where ``Assistant.ask`` spends its time.

Uses the standard library's cProfile over the rotating benchmark questions (extractive mode).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from assistant.service import Assistant
from bench.client import load_questions
from bench.suites import bench_settings


def profile_answers(data_dir: Path, questions: int = 40, top: int = 15) -> str:
    """Ask every question once after a short warm-up; returns the mean time and the top functions."""
    assistant = Assistant(bench_settings(data_dir))
    asked = load_questions(questions)
    for question in asked[:5]:
        assistant.ask(question)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for question in asked:
        assistant.ask(question)
    profiler.disable()
    mean_ms = (time.perf_counter() - started) / len(asked) * 1000
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return f"{len(asked)} questions, {mean_ms:.1f} ms per answer (under the profiler)\n{out.getvalue()}"


def main(argv: list[str] | None = None) -> int:
    """Print the profile of answering over an index directory."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("data_dir", type=Path, help="an index directory (KYSY_DATA_DIR of an ingest)")
    parser.add_argument("--questions", type=int, default=40)
    args = parser.parse_args(argv)
    print(profile_answers(args.data_dir, args.questions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
