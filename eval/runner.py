"""The question-set evaluation: every retriever over the same questions, then the product's answers.

Every retriever is given the same standalone query the product searched for a follow-up
(``meta.standalone_query``), and for a follow-up asking what came later or earlier the same documents
(``meta.period``: ``assistant/timeline.py``), so the comparison is about retrieval alone. Answers come from
``Assistant.ask`` (the product, hybrid).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.service import Assistant
from assistant.timeline import within
from eval.baselines import RetrieverSet
from eval.invariance import InvarianceReport, conversation_invariance
from eval.metrics import (
    citation_precision,
    dedupe,
    is_relevant,
    keyword_present,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from eval.questioncheck import index_problems
from eval.questionset import (
    FOLDS,
    Question,
    QuestionSetError,
    fitted_wordings,
    fold_models,
    fold_of,
    is_fitted_set,
    load_questions,
    wording_key,
)
from eval.variants import summary as variant_summary
from eval.variants import wording_robustness
from kysy.errors import ConfigError
from kysy.models import Answer, Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

_SECRETS = ("llm_api_key", "admin_token")
RECALL_KS = (1, 3, 5, 10)
DEPTH = 10
ANSWER_KEYS = ("keyword_recall", "citation_precision", "answered_with_citation",
               "refusal_accuracy", "false_refusal_rate")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RankedItem:
    """One retrieved chunk as the evaluation records it."""

    chunk_id: str
    file: str
    page: int | None
    rank: int
    relevant: bool


@dataclass(frozen=True)
class QuestionResult:
    """Everything measured for one question."""

    question: Question
    standalone: str
    ranked: dict[str, tuple[RankedItem, ...]]
    reachable: dict[str, int]
    answer: Answer
    ms: float
    cited_relevant: tuple[bool, ...]
    keyword_hits: tuple[str, ...]
    keyword_misses: tuple[str, ...]
    failure: str | None


def settings_record(settings: Settings) -> dict[str, object]:
    """Every setting as JSON-safe values, with secrets left out."""
    record: dict[str, object] = json.loads(settings.model_dump_json())
    for name in _SECRETS:
        record.pop(name, None)
    record["data_dir"] = str(Path(settings.data_dir))
    return record


def history_turns(history: Sequence[str]) -> list[Turn]:
    """The question set's alternating history (user first) as conversation turns."""
    return [Turn("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(history)]


def _relevant(chunk_file: str, text: str, question: Question) -> bool:
    return question.answerable and is_relevant(chunk_file, text, question.sources, question.evidence)


def _rank(hits: Sequence[Any], question: Question) -> tuple[RankedItem, ...]:
    relevance = dedupe([h.chunk.id for h in hits], [_relevant(h.chunk.file, h.chunk.text, question) for h in hits])
    return tuple(RankedItem(h.chunk.id, h.chunk.file, h.chunk.page, i, rel)
                 for i, (h, rel) in enumerate(zip(hits, relevance, strict=True), start=1))


def _failure(question: Question, ranked: dict[str, tuple[RankedItem, ...]], answer: Answer,
             cited: Sequence[bool], misses: Sequence[str]) -> str | None:
    """Why a question counts as failed, or None."""
    if not question.answerable:
        return None if answer.not_found else "answered an unanswerable question"
    reasons: list[str] = []
    product = ranked.get("hybrid")
    if product is not None and not any(item.relevant for item in product):
        reasons.append(f"no relevant chunk in top {DEPTH}")
    if answer.not_found:
        reasons.append("false refusal")
    else:
        if not answer.citations:
            reasons.append("no citation")
        if misses:
            reasons.append("missing keywords: " + ", ".join(misses))
        for citation, relevant in zip(answer.citations, cited, strict=True):
            if not relevant:
                reasons.append(f"irrelevant citation [{citation.n}]")
    return "; ".join(reasons) or None


def evaluate_question(assistant: Assistant, retrievers: RetrieverSet, question: Question,
                      reachable: dict[str, int]) -> QuestionResult:
    """Rank with every retriever, ask the product, and score the answer."""
    result = answered(assistant, question)
    query = assistant.retriever.prepare(result.standalone)
    documents = within(result.answer.meta, assistant.snapshot.documents)  # "Entä sen jälkeen?": what it read
    ranked = {name: _rank(retrievers.search(name, query, DEPTH, documents), question) for name in retrievers.names}
    failure = _failure(question, ranked, result.answer, result.cited_relevant, result.keyword_misses)
    return replace(result, ranked=ranked, reachable=reachable, failure=failure)


def answered(assistant: Assistant, question: Question) -> QuestionResult:
    """A question asked of the product and its answer scored (without the retrievers' rankings)."""
    started = time.perf_counter()
    answer = assistant.ask(question.question, history_turns(question.history))
    ms = (time.perf_counter() - started) * 1000
    standalone = str(answer.meta.get("standalone_query") or question.question)
    cited = []
    for citation in answer.citations:
        chunk = assistant.snapshot.chunk(citation.chunk_id)
        cited.append(chunk is not None and _relevant(chunk.file, chunk.text, question))
    text = "" if answer.not_found else answer.text
    hits = tuple(k for k in question.answer_keywords if keyword_present(k, text))
    misses = tuple(k for k in question.answer_keywords if k not in hits)
    return QuestionResult(question, standalone, {}, {}, answer, ms, tuple(cited), hits, misses,
                          _failure(question, {}, answer, cited, misses))


def _reachable(retrievers: RetrieverSet, question: Question) -> dict[str, int]:
    """How many chunks of each retriever's pool are relevant to the question (for nDCG's ideal)."""
    return {name: _relevant_in(retrievers.pool(name), question) for name in retrievers.names}


def _relevant_in(chunks: Sequence[Any], question: Question) -> int:
    """How many of ``chunks`` are relevant to the question (none for an unanswerable one)."""
    return sum(1 for c in chunks if _relevant(c.file, c.text, question)) if question.answerable else 0


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def retrieval_metrics(results: Sequence[QuestionResult], name: str) -> dict[str, float | None]:
    """Recall@k, MRR@10 and nDCG@10 of one retriever over the answerable questions."""
    rows = [r for r in results if r.question.answerable]
    flags = [[item.relevant for item in r.ranked[name]] for r in rows]
    metrics = {f"recall@{k}": _mean([recall_at_k(f, k) for f in flags]) for k in RECALL_KS}
    metrics["mrr@10"] = _mean([mrr_at_k(f, 10) for f in flags])
    metrics["ndcg@10"] = _mean([
        ndcg_at_k(f, 10, n_relevant=max(r.reachable[name], sum(f))) for f, r in zip(flags, rows, strict=True)
    ])
    return metrics


def answer_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """The product's answer metrics (None where no question qualifies)."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    precisions = [citation_precision(r.cited_relevant) for r in answerable]
    return {
        "keyword_recall": _mean([len(r.keyword_hits) / len(r.question.answer_keywords) for r in answerable]),
        "citation_precision": _mean([p for p in precisions if p is not None]),
        "answered_with_citation": _mean([
            float(not r.answer.not_found and bool(r.answer.citations)) for r in answerable]),
        "refusal_accuracy": _mean([float(r.answer.not_found) for r in unanswerable]),
        "false_refusal_rate": _mean([float(r.answer.not_found) for r in answerable]),
        **_separation_metrics(results),
    }


def _separation_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """How well a probability in the answers' ``meta`` tells answerable questions from unanswerable ones
    (AUC; 0.5 is chance): ``answerable_auc`` from the answerability model, ``reader_question_auc`` from
    the reader's best item (with ``KYSY_READER``). Each over the questions whose answer carries it."""
    from eval.reader_figures import auc

    found: dict[str, float | None] = {}
    for key, name in (("answerable", "answerable_auc"), ("reader", "reader_question_auc")):
        carried = [r for r in results if isinstance(r.answer.meta.get(key), float)]
        if carried:
            values = np.array([float(r.answer.meta[key]) for r in carried])  # type: ignore[arg-type]
            found[name] = auc(values, np.array([r.question.answerable for r in carried]))
    return found


@dataclass(frozen=True)
class EvalRun:
    """The results of one question-set evaluation."""

    results: tuple[QuestionResult, ...]
    retrievers: tuple[str, ...]
    settings: dict[str, object]
    invariance: InvarianceReport | None = None
    cross_validated: dict[str, float | None] | None = None
    wording: dict[str, object] | None = None
    cross_validated_retrieval: dict[str, float | None] | None = None  # hybrid, with the fold's models
    unfitted: dict[str, Any] | None = None  # see ``unfitted_answers``
    provenance: dict[str, Any] | None = None  # see ``eval/provenance.py``

    def latency(self) -> dict[str, float]:
        """p50 and p95 of ``ask()`` in milliseconds."""
        times = [r.ms for r in self.results]
        return {"p50": round(percentile(times, 50), 1), "p95": round(percentile(times, 95), 1)}

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object: retrievers, answers, latency_ms, settings, questions."""
        return {
            "retrievers": {name: retrieval_metrics(self.results, name) for name in self.retrievers},
            "answers": answer_metrics(self.results),
            "latency_ms": self.latency(),
            "settings": self.settings,
            "questions": len(self.results),
            **({"conversation_invariance": self.invariance.summary()} if self.invariance else {}),
            **({"answers_cross_validated": self.cross_validated} if self.cross_validated else {}),
            **({"hybrid_cross_validated": self.cross_validated_retrieval} if self.cross_validated_retrieval else {}),
            **({"wording_robustness": self.wording} if self.wording else {}),
            **({"answers_without_fitted_wordings": self.unfitted} if self.unfitted else {}),
            **({"provenance": self.provenance} if self.provenance else {}),
        }

    def by_type(self) -> dict[str, dict[str, Any]]:
        """Answer metrics, recall@5 per retriever and latency per question type."""
        types = sorted({r.question.type for r in self.results})
        table: dict[str, dict[str, Any]] = {}
        for kind in types:
            rows = [r for r in self.results if r.question.type == kind]
            entry: dict[str, Any] = {"questions": len(rows), **answer_metrics(rows)}
            if any(r.question.answerable for r in rows):
                entry["recall@5"] = {n: retrieval_metrics(rows, n)["recall@5"] for n in self.retrievers}
            entry["latency_p50_ms"] = round(percentile([r.ms for r in rows], 50), 1)
            table[kind] = entry
        return table


def unfitted_answers(results: Sequence[QuestionResult], fitted: frozenset[str]) -> dict[str, Any] | None:
    """For a set kept out of the fit: the answer metrics without its questions that a fitted set asks word for
    word (``fitted``: their ``wording_key``s), how many were left out and their ids; None when none was."""
    kept = [r for r in results if wording_key(r.question.question) not in fitted]
    if len(kept) == len(results):
        return None
    left_out = [r.question.id for r in results if wording_key(r.question.question) in fitted]
    return {"left_out": len(left_out), "left_out_ids": left_out, **answer_metrics(kept)}


def cross_validated_answers(assistant: Assistant, questions: Sequence[Question], models: Path,
                            folds: int = FOLDS, progress: Progress | None = None) -> dict[str, float | None]:
    """The answer metrics with each question answered by the models fitted without its fold.

    ``models`` holds ``item_scorer.<k>.txt``, ``answerability.<k>.json`` and ``breadth.<k>.json`` for each
    fold ``k`` (written by ``make train``); a question is in the fold its wording gives (``fold_of``).
    """
    return answer_metrics(cross_validated_results(assistant, questions, models, folds, progress))


def cross_validated_results(assistant: Assistant, questions: Sequence[Question], models: Path,
                            folds: int = FOLDS, progress: Progress | None = None) -> list[QuestionResult]:
    """Each question answered, and its sources ranked (``hybrid``: the first ``top_k`` by their best item),
    by the models fitted without its fold (see ``cross_validated_answers``)."""
    from assistant.engine import AnswerEngine

    report = progress or (lambda stage, advance, total: None)
    shipped = assistant.engine
    engines = [AnswerEngine(assistant.settings, *fold_models(models, k)) for k in range(folds)]
    results = []
    try:
        for question in questions:
            assistant.use_engine(engines[fold_of(question, folds)])
            result = answered(assistant, question)
            documents = within(result.answer.meta, assistant.snapshot.documents)
            ranked = {"hybrid": _rank(assistant.ranking(result.standalone, DEPTH, None, documents), question)}
            reachable = {"hybrid": _relevant_in(assistant.snapshot.chunks, question)}
            results.append(replace(result, ranked=ranked, reachable=reachable))
            report("cross-validate", 1, len(questions))
    finally:
        assistant.use_engine(shipped)
    return results


def _provenance(assistant: Assistant, path: Path, cv_models: Path | None) -> dict[str, Any]:
    """The run record beside the settings: code version, question file, analyzer, thresholds, model digests."""
    from eval import provenance

    record = {"code": provenance.code_version(), "questions_file": provenance.question_file(path),
              **provenance.answering(assistant)}
    if cv_models:
        record["cv_models"] = provenance.model_files([path for k in range(FOLDS) for path in fold_models(cv_models, k)])
    return record


def run_questions(settings: Settings, path: Path, retrievers: Sequence[str], *,
                  limit: int | None = None, progress: Progress | None = None, invariance: bool = True,
                  cv_models: Path | None = None) -> EvalRun:
    """Evaluate every retriever and the product's answers on a question set, and (``invariance``)
    whether its standalone questions keep their first citation after unrelated turns. With
    ``cv_models`` (``make train``'s fold models) the answers are also given cross-validated.

    The whole set is checked against the index (``eval/questioncheck.py``) before a question is asked.

    Raises:
        QuestionSetError: the file is malformed, or names a source, page or evidence the index does not hold.
        IndexNotBuiltError: nothing ingested yet. ConfigError: ``limit`` below 1.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    loaded = load_questions(path)
    report = progress or (lambda stage, advance, total: None)
    assistant = Assistant(settings)
    problems = index_problems(path, loaded, assistant.snapshot.chunks, assistant.snapshot.documents.values())
    if problems:
        raise QuestionSetError.of(problems)
    questions = loaded[:limit]
    record = _provenance(assistant, path, cv_models)
    retriever_set = RetrieverSet(assistant, retrievers, report)
    try:
        assistant.ask(questions[0].question)  # warm caches so the first timing is not an outlier
        results = []
        for question in questions:
            results.append(evaluate_question(assistant, retriever_set, question, _reachable(retriever_set, question)))
            report("ask", 1, len(questions))
    finally:
        retriever_set.close()
    checked = conversation_invariance(assistant, questions, report) if invariance else None
    cross = cross_validated_results(assistant, questions, cv_models, progress=report) if cv_models else None
    wording = variant_summary(wording_robustness(assistant, questions, report)) if invariance else None
    unfitted = None if is_fitted_set(path) else unfitted_answers(results, fitted_wordings())
    return EvalRun(tuple(results), tuple(retrievers), settings_record(settings), checked,
                   answer_metrics(cross) if cross is not None else None, wording,
                   retrieval_metrics(cross, "hybrid") if cross is not None else None, unfitted, record)
