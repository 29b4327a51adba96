"""The three benchmark suites (quick, ingest, all): each measures and turns figures into report rows."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.client import load_questions
from bench.embed_engines import EmbedPlan
from bench.finlex import CACHE_DIR, finlex_records, write_documents
from bench.http import HttpPlan, measure_http
from bench.ingest_speed import ingest_throughput, reingest_unchanged
from bench.report import Report, Row, median, percentile
from bench.retrieval_scale import time_retrieval
from bench.server import BENCH_ENV
from ingest.analyze import make_analyzer
from ingest.embed import make_embedder
from ingest.pipeline import ingest_paths
from kysy.settings import Settings

logger = logging.getLogger(__name__)

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
RSS_LIMIT_MB = 1536.0


@dataclass
class Options:
    """What to run and how big (the CLI fills this in)."""

    workdir: Path
    questions: int = 40
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    base_chunks: int = 1_000
    chroma_sizes: tuple[int, ...] = (1_000, 10_000)
    finlex_docs: int = 20
    reingest_docs: int = 1_000
    alternatives: bool = True
    reuse_indexes: bool = True
    embed: EmbedPlan = EmbedPlan()
    progress: Callable[[str], None] = lambda _: None


def bench_settings(data_dir: Path) -> Settings:
    """The settings every benchmark uses: defaults, extractive answers, the bench's embedding cache."""
    env: dict[str, object] = {k.removeprefix("KYSY_").lower(): v for k, v in BENCH_ENV.items()}
    fields = {**env, "data_dir": data_dir, "embed_cache": CACHE_DIR / "embeddings.sqlite"}
    return Settings.model_validate(fields)


def settings_summary(settings: Settings, workers: str) -> dict[str, str]:
    """The settings a report records."""
    keys = ("embedder", "analyzer", "top_k", "candidates", "rrf_k", "chunk_target_words", "chunk_max_words",
            "chunk_overlap_words", "embed_batch_size", "rate_limit_per_minute", "max_concurrency")
    found = {key: str(getattr(settings, key)) for key in keys}
    found["answer mode"] = "extractive (no KYSY_LLM_BASE_URL)"
    found["server"] = workers
    return found


def prepare_bundled(options: Options) -> Settings:
    """Ingest the bundled corpus into a fresh data dir (vectors come from the bench's embedding cache)."""
    settings = bench_settings(options.workdir / "bundled")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    options.progress("ingesting the bundled corpus")
    ingest_paths(settings, [CORPUS])
    return settings


def http_rows(report: Report, settings: Settings, options: Options, plan: HttpPlan) -> dict[str, float]:
    """Sequential latency, throughput, SSE first event and start-up against ``kysy serve``."""
    result = measure_http(settings.data_dir, options.workdir / "logs", plan, options.progress)
    s = result.summary()
    p50, p95 = s["sequential_p50_ms"], s["sequential_p95_ms"]
    report.add(Row("POST /api/chat, sequential", "p50 <= 15 ms, p95 <= 100 ms", p50, p95, "ms",
                   p50 <= 15 and p95 <= 100 and not s["sequential_errors"],
                   f"{s['sequential_n']:.0f} requests, {s['sequential_errors']:.0f} errors"))
    rps, errors = s["load_requests_per_s"], s["load_errors"]
    report.add(Row(f"POST /api/chat, {plan.clients} concurrent clients", ">= 60 req/s, 0 errors", rps, None,
                   "req/s", rps >= 60 and errors == 0,
                   f"{s['load_completed']:.0f} requests in {plan.seconds:g} s, {errors:.0f} errors, "
                   f"latency p50 {s['load_p50_ms']:.0f} / p95 {s['load_p95_ms']:.0f} ms"))
    first50 = s["sse_first_p50_ms"]
    report.add(Row("SSE time to first event", "p50 <= 50 ms", first50, s["sse_first_p95_ms"], "ms",
                   first50 <= 50 and not s["sse_errors"],
                   f"{s['sse_n']:.0f} streams, {s['sse_errors']:.0f} errors, "
                   f"whole stream p50 {s['sse_total_p50_ms']:.0f} ms"))
    starts = result.startup_s
    report.add(Row("start-up to /readyz 200, bundled corpus", "<= 5 s", median(starts),
                   percentile(starts, 95) if len(starts) > 1 else None, "s", max(starts) <= 5,
                   f"{len(starts)} cold start(s), max {max(starts):.2f} s"))
    first = s["first_question_ms"]
    report.add(Row("first POST /api/chat after start-up", "<= 100 ms", first, None, "ms", first <= 100,
                   "the first question once /readyz is 200: nothing left to load"))
    report.add(Row("server RSS after the HTTP runs, bundled corpus", "(context)", s["rss_mb"], None,
                   "MiB", None, f"peak {s['peak_rss_mb']:.0f} MiB"))
    report.notes.append(
        "HTTP: a real `kysy serve` started by the bench on 127.0.0.1 with KYSY_RATE_LIMIT_PER_MINUTE=0 (the "
        "per-client limit would refuse a load test from one address) and KYSY_MAX_CONCURRENCY=64 (above the "
        "16 clients). Clients run in a separate process (`python -m bench.client`, httpx; the concurrent run "
        f"is asyncio with one connection per client) and share the machine's cores with the server. "
        f"Questions rotate through {plan.questions} distinct questions of eval/questions.fi.jsonl; the first "
        "10 requests of each run are a warm-up and not counted. SSE: time from sending the request to the "
        "first `event:`/`data:` line. The server's query cache (KYSY_QUERY_CACHE_SIZE) is on, as in "
        "production, so after the first round of questions their vectors come from it; docs/scaling.md "
        "gives the figures with every question embedded."
    )
    return s


def retrieval_row(report: Report, label: str, settings: Settings, questions: list[str], *,
                  target: str = "(context)", met: bool | None = None, rounds: int = 3) -> dict[str, float]:
    """Time hybrid retrieval in-process and add its row."""
    embedder = make_embedder(settings.embedder, threads=settings.embed_thread_count)
    analyzer = make_analyzer(settings.analyzer)
    timing = time_retrieval(settings, embedder, analyzer, questions, rounds=rounds)
    s = timing.summary()
    report.add(Row(f"hybrid retrieval incl. query embedding, {label} ({timing.chunks:,} chunks)", target,
                   s["p50_ms"], s["p95_ms"], "ms", met,
                   f"p50 parts: embed+analyse {s['prepare_p50_ms']:.1f}, dense {s['dense_p50_ms']:.1f}, "
                   f"keyword {s['keyword_p50_ms']:.1f} ms; snapshot load {s['snapshot_load_s']:.2f} s"))
    report.add(Row(f"  search part only (dense + keyword + fusion), {label} ({timing.chunks:,} chunks)",
                   "(context)", s["search_p50_ms"], s["search_p95_ms"], "ms", None,
                   "the part that grows with the index; the query embedding does not"))
    return s


def run_quick(report: Report, options: Options) -> None:
    """Sequential latency, 16 clients for 10 s, SSE first event and retrieval on the bundled corpus (< 2 min)."""
    settings = prepare_bundled(options)
    plan = HttpPlan(sequential=150, sse=50, seconds=10.0, starts=1, questions=options.questions)
    report.settings = settings_summary(settings, "kysy serve: one uvicorn process, answers in its threadpool")
    http_rows(report, settings, options, plan)
    retrieval_row(report, "bundled corpus", settings, load_questions(options.questions), rounds=2)


def run_ingest(report: Report, options: Options) -> None:
    """Ingest throughput next to the raw embedder (bundled corpus, Finlex sample) and the unchanged re-run."""
    base = bench_settings(options.workdir / "unused")
    report.settings = report.settings or settings_summary(base, "-")
    sample_dir = options.workdir / "finlex-sample"
    shutil.rmtree(sample_dir, ignore_errors=True)
    write_documents(finlex_records(options.finlex_docs), sample_dir)
    for label, paths in (("bundled corpus", [CORPUS]), (f"Finlex first {options.finlex_docs} docs", [sample_dir])):
        t = ingest_throughput(label.split()[0].lower(), paths, options.workdir, base, options.progress).to_json()
        report.add(Row(
            f"ingest / raw embedder throughput, {label}", ">= 0.90", float(t["ratio"]), None,  # type: ignore[arg-type]
            "x", float(t["ratio"]) >= 0.9,  # type: ignore[arg-type]
            f"{t['documents']} docs, {t['pages']} pages, {t['chunks']} chunks + {t['sentences']} sentence texts "
            "(alone and in context); "
            f"ingest {t['ingest_s']:.1f} s = {t['chunks_per_s']:.2f} chunks/s, {t['pages_per_s']:.2f} pages/s, "
            f"{t['texts_per_s']:.1f} texts/s; raw {t['raw_embed_s']:.1f} s = {t['raw_texts_per_s']:.1f} texts/s, "
            + (f"{t['raw_sentences_per_s']:.1f} sentence texts/s, " if t["raw_sentences_per_s"] else "sentences pooled "
               "from their chunks' pass, ")
            + f"{t['raw_chunks_per_s']:.2f} chunks/s",
        ))
    r = reingest_unchanged(options.workdir, base, documents=options.reingest_docs, progress=options.progress)
    report.add(Row(f"re-ingest of an unchanged {r['documents']:,.0f}-document corpus (kysy ingest CLI)", "<= 10 s",
                   r["unchanged_cli_s"], None, "s", r["unchanged_cli_s"] <= 10,
                   f"{r['chunks']:.0f} chunks; in-process ingest_paths {r['unchanged_in_process_s']:.2f} s; "
                   f"the CLI time includes interpreter start and model load"))
    report.notes.append(
        "Ingest throughput: a full `ingest --rebuild` with an EMPTY embedding cache (given the bench's loaded "
        "and warmed embedder, as a running server gives its own: loading the model is in neither timing), then the raw embedder "
        f"({base.embedder} passages, batches of embed_batch_size) on exactly the unique texts the pipeline "
        "embedded (chunk embed_text; + sentences, each alone and under its title and heading, unless late chunking pools them from their chunk). Ratio = raw seconds / ingest seconds. Finlex sample: the first "
        f"{options.finlex_docs} documents of statutes_2024 and kho_decisions_2021_2025 interleaved."
    )
    report.notes.append(
        f"Re-ingest: {options.reingest_docs} documents, each the first 60 words of a Finlex document; the "
        "embedding cache of that throwaway index was pre-filled with random unit vectors (the timed "
        "run embeds nothing either way), then `kysy ingest` ran twice and the second, unchanged run is timed."
    )
