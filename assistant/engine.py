"""The answer engine: intent -> evidence -> scoring -> selection -> rendering, and answerability.

``Assistant.look`` runs the stages up to the evidence (``assistant/service.py``); the engine scores
the candidates (``scoring.py``), judges whether and how far they answer (``answerability.py``),
chooses the quoted items (``select.py``) and lays them out (``render.py``); the breadth model
(``breadth.py``) says whether the question needs several documents before the items are chosen. With
``debug`` the answer's ``meta`` lists every quoted item with its score and the reason it was added, the
answerability signals and the breadth model's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.answerability import ANSWERABILITY_MODEL, Answerability, Verdict, missing_facts, signals
from assistant.breadth import BREADTH_MODEL, Breadth
from assistant.evidence import Evidence, Looked
from assistant.intent import Intent
from assistant.messages import not_found_text
from assistant.reader import Reader, Reading, gate
from assistant.refusal import suggest_topics
from assistant.render import render
from assistant.scoring import ITEM_MODEL, ItemScorer
from assistant.select import Chosen, SelectionSettings, select
from ingest.analyze import Analyzer
from ingest.store import Snapshot
from kysy.models import Answer, ScoredChunk
from kysy.settings import Settings

# The best items (by score) whose texts must hold an asked fact for the answer not to be partial: the lead,
# and any item scoring at least ``Settings.answer_fact_ratio`` of it (one the ranker can hardly tell from it).
FACT_ITEMS = 1
FACT_RATIO: float = Settings.model_fields["answer_fact_ratio"].default


def missing_in_best(intent: Intent, evidence: Evidence, scores: np.ndarray, analyzer: Analyzer | None,
                    parts: Sequence[np.ndarray] = (), ratio: float = FACT_RATIO) -> frozenset[str]:
    """The asked fact kinds that neither the best ``FACT_ITEMS`` items by score nor the items scoring ``ratio``
    of the best and missing none of the question's names it has hold (the answer is partial); for a question
    of several parts, by the whole question's scores nor by any part's (``parts``). "Kuka Kuntaliiton
    toimitusjohtaja kutsui ...?" is answered when the item naming Minna Karhunen scores 0.33 against the lead's
    0.34, which names nobody; "Kuinka monta Lapin kuntaa ...?" is not answered by Etelä-Karjala's "9 kuntaa"."""
    best = [evidence.candidates[i].text for ranking in (scores, *parts) for i in _near_lead(evidence, ranking, ratio)]
    return missing_facts(intent, best, analyzer)


def _near_lead(evidence: Evidence, ranking: np.ndarray, ratio: float) -> list[int]:
    """The best ``FACT_ITEMS`` items of ``ranking``, and the others scoring at least ``ratio`` of the best that
    miss no more of the question's names than the best does."""
    order = [int(i) for i in np.argsort(-ranking, kind="stable")]
    if not order:
        return []
    top = float(ranking[order[0]])
    names = evidence.candidates[order[0]].feature("names_missing")
    return order[:FACT_ITEMS] + [i for i in order[FACT_ITEMS:] if float(ranking[i]) >= ratio * top
                                 and evidence.candidates[i].feature("names_missing") <= names]


def order_by_items(retrieved: Sequence[ScoredChunk], evidence: Evidence, scores: np.ndarray) -> list[ScoredChunk]:
    """``retrieved`` with the chunks that have candidates first, best item score first (ties and the
    chunks without candidates keep their fused order), ranks renumbered; each reordered chunk's best item
    score is added to its ``scores`` as ``item``.

    The item scoring model reads every sentence and list item of the chunks against the question, so its
    best item is a sharper judge of which chunk answers than the chunk-level fusion.
    """
    best: dict[int, float] = {}
    for candidate, score in zip(evidence.candidates, scores, strict=True):
        best[candidate.rank] = max(best.get(candidate.rank, -np.inf), float(score))
    order = sorted(range(len(retrieved)), key=lambda i: (i not in best, -best.get(i, 0.0), i))
    return [replace(retrieved[i], rank=rank,
                    scores=(*retrieved[i].scores, ("item", best[i])) if i in best else retrieved[i].scores)
            for rank, i in enumerate(order, start=1)]


@dataclass(frozen=True)
class Judged:
    """The engine's reading of one question: item scores, the verdict and the chosen items."""

    scores: np.ndarray
    verdict: Verdict
    chosen: tuple[Chosen, ...]
    reading: Reading | None = None
    breadth: float | None = None  # the breadth model's probability that the question needs several documents


class AnswerEngine:
    """Scores, judges, selects and renders; holds the learned models."""

    def __init__(self, settings: Settings, item_model: Path = ITEM_MODEL,
                 answerability_model: Path = ANSWERABILITY_MODEL, breadth_model: Path = BREADTH_MODEL,
                 reader: Reader | None = None) -> None:
        self.scorer = ItemScorer(item_model)
        self.breadth = Breadth.load(breadth_model, settings.breadth_threshold)
        self.order_by_items = settings.order_by_items
        self.answerability = Answerability(answerability_model, settings.answerable_threshold)
        self.numbers = SelectionSettings.of(settings)
        self.fact_ratio = settings.answer_fact_ratio
        self.reader = reader or (Reader.of(settings) if settings.reader else None)
        if self.reader is not None:
            self.answerable_threshold = (settings.answerable_threshold if settings.answerable_threshold is not None
                                         else self.reader.answerable_threshold(answerability_model,
                                                                               self.answerability.threshold))

    def scores(self, looked: Looked) -> tuple[np.ndarray, np.ndarray, Reading | None]:
        """The items' scores by the scoring model, the same after the reader (when on), and its reading."""
        scores = self.scorer.score(looked.evidence)
        # The reader re-orders the best few items and may refuse what answerability alone would answer. It was
        # trained on Finnish pairs only: an English or Swedish question read against Finnish items looks unanswered.
        reading = None
        if self.reader is not None and looked.evidence.candidates and looked.query.language == "fi":
            reading = self.reader.read(looked, scores)
        return scores, (reading.scores if reading is not None else scores), reading

    def ranking(self, looked: Looked) -> list[ScoredChunk]:
        """The sources of ``looked`` as the answer lists them (``sources``), then the rest in fused order."""
        ordered = self.sources(looked, self.scores(looked)[1])
        tail = looked.retrieved[looked.gathered:]
        return [*ordered, *(replace(hit, rank=rank) for rank, hit in enumerate(tail, start=len(ordered) + 1))]

    def sources(self, looked: Looked, scores: np.ndarray) -> list[ScoredChunk]:
        """The chunks the evidence was gathered from (the first ``top_k`` and a named document's passages), by
        their best item's score (``order_by_items``) or, with ``order_by_items`` off, in fused order."""
        gathered = looked.retrieved[: looked.gathered]
        return order_by_items(gathered, looked.evidence, scores) if self.order_by_items else list(gathered)

    def judge(self, looked: Looked, snapshot: Snapshot, analyzer: Analyzer) -> Judged:
        """Score the candidates of ``looked``, judge whether they answer, and select the quoted items."""
        query, intent, evidence = looked.query, looked.intent, looked.evidence
        breadth = None
        if self.breadth is not None:
            breadth = self.breadth.probability(query, intent)
            intent = self.breadth.applied(intent, breadth)
        model_scores, scores, reading = self.scores(looked)
        values = signals(query, intent, evidence, model_scores, snapshot.keyword, analyzer)
        parts = [self.scorer.score(part.evidence) for part in looked.parts]
        missing = missing_in_best(intent, evidence, scores, analyzer, parts, self.fact_ratio)
        verdict = self.answerability.judge(values, missing)
        if reading is not None and self.reader is not None:
            verdict = gate(verdict, reading, self.reader.threshold, self.answerable_threshold, missing)
        if not evidence.candidates:
            verdict = Verdict("not_found", 0.0, values)
        chosen = () if verdict.status == "not_found" else tuple(
            select(evidence, scores, intent, self.numbers, list(zip((p.intent for p in looked.parts), parts, strict=True))))
        return Judged(scores, verdict, chosen, reading, breadth)

    def answer(self, looked: Looked, snapshot: Snapshot, analyzer: Analyzer, language: str,
               *, debug: bool = False) -> Answer:
        """The extractive answer of ``looked``: quotes with citations, partial, or not found."""
        retrieved: Sequence[ScoredChunk] = looked.retrieved[: looked.gathered]
        judged = self.judge(looked, snapshot, analyzer)
        verdict = judged.verdict
        sources = tuple(self.sources(looked, judged.scores))
        meta: dict[str, object] = {"status": verdict.status, "answerable": round(verdict.probability, 4)}
        if judged.reading is not None:
            meta["reader"] = round(judged.reading.best, 4)  # the best item's probability of answering
        if debug:
            meta["signals"] = {name: round(value, 4) for name, value in verdict.signals.items()}
            if judged.breadth is not None:
                meta["breadth"] = round(judged.breadth, 4)
            meta["items"] = [{"text": c.candidate.text, "score": round(c.score, 4), "reason": c.reason,
                              "file": retrieved[c.candidate.rank].chunk.file,
                              "page": retrieved[c.candidate.rank].chunk.page} for c in judged.chosen]
        if verdict.status == "not_found":
            topics = suggest_topics(retrieved)
            meta["suggestions"] = list(topics)  # the nearest topics, for a client to offer as questions
            text = not_found_text(language, topics)
            return Answer(text, (), sources, True, language, "extractive", meta, status="not_found")
        # A partial answer's opening must not deny a fact that one of its own quotes holds.
        shown = bool(verdict.missing) and bool(set(verdict.missing) - missing_facts(
            looked.intent, [entry.candidate.text for entry in judged.chosen], analyzer))
        text, citations = render(judged.chosen, retrieved, snapshot, language, verdict.missing,
                                 missing_shown_below=shown)
        partial = verdict.status == "partial"
        return Answer(text, citations, sources, partial, language, "extractive", meta, status=verdict.status)
