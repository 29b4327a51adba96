"""``make train``: the answer engine's models and numbers fitted from data, deterministically.

1. Examples (``eval/training.py``) from three indexes built under ``--work``: squad2fi-qa's training
   articles (train on), its dev articles (choose settings on), and ``corpus/`` with the project's
   in-domain question sets (``eval/questionset.py``'s ``TRAINING_SETS``, together "the own set").
2. The item scorer (LightGBM) on the squad training questions and the own set. The own set's
   figures are cross-validated: fold k (``fold_of`` the question's wording) is scored by a model fitted on
   everything but fold k. The
   squad training questions get out-of-fold scores too (two folds by article) for step 3.
3. Answerability (logistic regression) on question-level signals from those out-of-fold scores;
   its threshold is the highest that refuses at most ``--max-refused`` of the answerable dev
   questions and ``--max-refused-own`` of the own answerable questions.
4. Breadth (logistic regression over the question's lemmas and intent, ``assistant/breadth.py``) on the own
   set's answerable questions, labelled by whether their evidence is in two or more files; each own question's
   intent is made broad by the model fitted without its fold (dev's by the final model) for step 5.
5. The selection numbers (``answer_*``) by coordinate ascent on a small grid: the most gold answers
   on dev plus keyword recall and citation precision on the own set, with dev answers of at most ``--max-words`` words on
   average (over the dev questions the engine answers at the threshold of step 3, as ``make eval-squad`` counts them)
   and the own set's citation precision at least ``--min-precision`` (out-of-fold scores).

6. The same choice of threshold and numbers made again on each half of dev's articles, the other half scored
   (``article_figures``): what the choice made on dev is worth on articles it never saw.

Writes ``assistant/models/item_scorer.txt``, ``answerability.json``, ``breadth.json`` and ``training.json`` (the chosen
numbers and every figure, in-sample and cross-validated side by side), and under ``--work/folds/``
the models of each fold of the own set (fitted without it), with which ``kysy eval --cv-models``
reports the question set cross-validated.

    python -m eval.train --dataset ../shared/datasets/squad2fi-qa --work .kysy-train
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.answerability import SIGNALS, signals
from assistant.breadth import Breadth
from assistant.engine import missing_in_best
from assistant.messages import lead_line
from assistant.render import render
from assistant.scoring import MODELS_DIR
from assistant.select import SelectionSettings, select
from assistant.service import Assistant
from eval.fit import (
    answerable_probability,
    fit_answerability,
    fit_breadth,
    fit_items,
    predict_items,
    threshold_for,
    write_json,
)
from eval.metrics import keyword_present
from eval.questionset import FOLDS, TRAINING_SETS, fold_models, load_questions
from eval.squad import gold_in, load_split, quoted_text, word_count, write_articles
from eval.training import Example, own_examples, squad_examples, stack
from ingest.analyze import Analyzer, make_analyzer
from ingest.pipeline import ingest_paths
from kysy.errors import KysyError
from kysy.models import Answer
from kysy.settings import Settings

logger = logging.getLogger(__name__)

SQUAD_FOLDS = 2
# Halves of squad2fi-qa's dev articles for ``article_figures``: the threshold and the selection numbers chosen on
# one half, the other half scored.
DEV_ARTICLE_FOLDS = 2
# Own-set candidate rows weigh this many squad rows: the domain's structure is learnt from few questions.
OWN_WEIGHT = 5.0
# Own questions weigh this many squad questions in answerability: what a near miss looks like in the
# domain (a region or a fact the materials do not have) is not what SQuAD's unanswerables look like.
OWN_ANSWERABILITY_WEIGHT = 20.0
# What the own set's citation precision weighs in the selection numbers' objective, against dev's gold answers
# and the own set's key facts (1 each).
PRECISION_WEIGHT = 1.0
# What one example's answer under one set of selection numbers gives the selection's figures: a dev question's
# (whether the gold answer is in it, (its words,)), an own question's (the share of its key facts, whether each
# cited passage holds its evidence).
Found = tuple[float, tuple[float, ...]]
FoundCache = dict[tuple[str, SelectionSettings], Found]
GRID: dict[str, tuple[float, ...]] = {
    "support_ratio": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
    "support_floor": (0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 1.0),
    "word_rate": (0.0, 0.002, 0.003, 0.005, 0.0075, 0.01),
    "other_ratio": (0.2, 0.4, 0.6, 0.8, 1.0),
    "max_items": (1, 2, 3, 4, 5, 6),
    "cover_floor": (0.05, 0.1, 0.2, 0.4, 1.01),
    "source_floor": (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 1.01),
    "broad_ratio": (0.05, 0.1, 0.2, 0.3, 0.5, 1.01),
    "document_ratio": (0.05, 0.1, 0.2, 0.3, 0.5, 1.01),
    "part_floor": (0.05, 0.1, 0.2, 0.3, 0.5, 1.01),
    "section_sentences": (0, 1, 2, 3),
}
INTEGER_NUMBERS = frozenset({"max_items", "section_sentences"})
# Where the selection search starts: one coordinate at a time gets stuck where moving any single number
# loses (from 3 items and other passages at 0.2 of the lead it never reached 6 and 0.6, which scored
# higher on every term but dev's gold answers), so it starts from short and long, open and closed answers.
STARTS: tuple[dict[str, float], ...] = tuple({"max_items": items, "other_ratio": other}
                                             for items in (3, 6) for other in (0.2, 0.6))


@dataclass(frozen=True)
class Sets:
    """The three example sets."""

    train: list[Example]
    dev: list[Example]
    own: list[Example]


def build(dataset: Path, corpus: Path, questions: Sequence[Path], work: Path, *, limit: int | None = None
          ) -> Sets:
    """Ingest the three indexes under ``work`` (incrementally) and gather every example; the own set is
    the questions of every file in ``questions``.

    ``limit`` keeps that many questions of each squad split and of each question file (for a quick run).
    """
    sets = {}
    for split in ("train", "dev"):
        items = load_split(dataset, split)
        if limit:
            items = items[:limit]
        settings = Settings(data_dir=work / f"squad-{split}", embed_cache=work / "embeddings.sqlite", llm_base_url="")
        articles = work / f"squad-{split}-articles"
        write_articles(items, articles)
        _ingest(settings, articles)
        sets[split] = squad_examples(Assistant(settings), items)
    settings = Settings(data_dir=work / "corpus", corpus_dir=corpus, embed_cache=work / "embeddings.sqlite",
                        llm_base_url="")
    _ingest(settings, corpus)
    own = [question for path in questions for question in load_questions(path)[:limit]]
    return Sets(sets["train"], sets["dev"], own_examples(Assistant(settings), own, FOLDS))


def _ingest(settings: Settings, folder: Path) -> None:
    """Bring one training index up to date; a file that fails to load stops the training.

    Raises:
        KysyError: a file could not be ingested (a model fitted without it would be skewed).
    """
    report = ingest_paths(settings, [folder])
    if report.failed:
        raise KysyError(f"could not ingest {', '.join(str(f) for f in report.failed)} under {folder}; "
                        "training needs every document")


def _rows(examples: Sequence[Example], weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The candidate rows of the answerable questions with a right candidate (the ranker learns from those)."""
    ranked = [e for e in examples if e.answerable and any(e.labels)]
    features, labels, _ = stack(ranked)
    return features, labels, np.array([len(e.labels) for e in ranked], dtype=int), np.full(len(labels), weight)


@dataclass(frozen=True)
class ItemModels:
    """The item model on all data, one per own-set fold (fitted without that fold), and out-of-fold scores."""

    final: str
    folds: tuple[str, ...]
    scores: dict[str, np.ndarray]
    parts: dict[str, tuple[np.ndarray, ...]]  # the same model's scores against each part of a question


def item_models(sets: Sets) -> ItemModels:
    """The final item model, the fold models, and out-of-fold scores of every own and squad training example."""
    train, own = sets.train, sets.own

    def fitted(squad: Sequence[Example], ours: Sequence[Example]) -> str:
        parts = zip(_rows(squad, 1.0), _rows(ours, OWN_WEIGHT), strict=True)
        return fit_items(*(np.concatenate(part) for part in parts))

    final = fitted(train, own)
    scores: dict[str, np.ndarray] = {}
    parts: dict[str, tuple[np.ndarray, ...]] = {}

    def score(model: str, examples: Iterable[Example]) -> None:
        for e in examples:
            scores[e.id] = predict_items(model, e.features)
            if e.looked.parts:
                parts[e.id] = tuple(predict_items(model, part.evidence.matrix()) for part in e.looked.parts)

    folds = []
    for fold in range(FOLDS):
        folds.append(fitted(train, [e for e in own if e.group != fold]))
        score(folds[-1], (e for e in own if e.group == fold))
    articles = sorted({e.group for e in train})
    for half in range(SQUAD_FOLDS):
        held = set(articles[half::SQUAD_FOLDS])
        score(fitted([e for e in train if e.group not in held], own), (e for e in train if e.group in held))
    score(final, sets.dev)
    return ItemModels(final, tuple(folds), scores, parts)


@functools.cache
def _analyzer() -> Analyzer:
    """The analyzer the engine reads names with when it answers (the settings' one)."""
    return make_analyzer(Settings().analyzer)


def question_signals(example: Example, scores: np.ndarray) -> np.ndarray:
    """The answerability signals of one example with the given item scores."""
    looked = example.looked
    values = signals(looked.query, looked.intent, looked.evidence, scores, example.snapshot.keyword, _analyzer())
    return np.array([values[name] for name in SIGNALS])


@dataclass(frozen=True)
class Refusals:
    """What a threshold is chosen from: each dev and own example's probability of being answerable (own: out of
    fold), whether it is, and whether the engine answers it partially whatever the threshold (``is_partial``)."""

    dev_p: np.ndarray
    dev_y: np.ndarray
    dev_partial: np.ndarray
    own_p: np.ndarray
    own_y: np.ndarray
    own_partial: np.ndarray

    def threshold(self, max_refused: float, max_refused_own: float, dev: np.ndarray | None = None,
                  own: np.ndarray | None = None) -> float:
        """``threshold_for`` over the dev and own examples kept by the masks ``dev`` and ``own`` (all when None)."""
        dev = np.ones(len(self.dev_y), dtype=bool) if dev is None else dev
        own = np.ones(len(self.own_y), dtype=bool) if own is None else own
        return threshold_for([self.dev_p[dev], self.own_p[own]], [self.dev_y[dev], self.own_y[own]],
                             [max_refused, max_refused_own], [self.dev_partial[dev], self.own_partial[own]])


@dataclass(frozen=True)
class AnswerabilityModels:
    """The answerability model on all data, one per own-set fold, every example's probability
    (own questions: from the model fitted without their fold), and what their thresholds were chosen from."""

    final: dict[str, object]
    folds: tuple[dict[str, object], ...]
    probability: dict[str, float]
    refusals: Refusals


def answerability(sets: Sets, scores: dict[str, np.ndarray], max_refused: float, max_refused_own: float,
                  parts: Mapping[str, Sequence[np.ndarray]] | None = None) -> AnswerabilityModels:
    """Fit answerability and choose each model's threshold (see the module docstring)."""
    def matrix(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
        rows = [question_signals(e, scores[e.id]) for e in examples]
        return np.array(rows).reshape(-1, len(SIGNALS)), np.array([e.answerable for e in examples])

    train_x, train_y = matrix(sets.train)
    own_x, own_y = matrix(sets.own)
    dev_x, dev_y = matrix(sets.dev)
    groups = np.array([e.group for e in sets.own])
    parts = parts or {}
    partial = {name: np.array([is_partial(e, scores[e.id], parts.get(e.id, ())) for e in getattr(sets, name)])
               for name in ("dev", "own")}

    def fitted(keep: np.ndarray) -> dict[str, object]:
        weights = np.concatenate([np.ones(len(train_y)), np.full(int(keep.sum()), OWN_ANSWERABILITY_WEIGHT)])
        return fit_answerability(np.vstack([train_x, own_x[keep]]), np.concatenate([train_y, own_y[keep]]), weights)

    own_oof = np.zeros(len(own_y))
    folds = []
    for fold in range(FOLDS):
        model = fitted(groups != fold)
        own_oof[groups == fold] = answerable_probability(model, own_x[groups == fold])
        folds.append(model)
    final = fitted(np.ones(len(own_y), dtype=bool))
    dev_p = answerable_probability(final, dev_x)
    refusals = Refusals(dev_p, dev_y, partial["dev"], own_oof, own_y, partial["own"])
    final["threshold"] = refusals.threshold(max_refused, max_refused_own)
    for fold, model in enumerate(folds):  # each fold's threshold is chosen without that fold's questions
        model["threshold"] = refusals.threshold(max_refused, max_refused_own, own=groups != fold)
    probability = {e.id: float(p) for e, p in zip(sets.dev, dev_p, strict=True)}
    probability.update((e.id, float(p)) for e, p in zip(sets.own, own_oof, strict=True))
    return AnswerabilityModels(final, tuple(folds), probability, refusals)


@dataclass(frozen=True)
class BreadthModels:
    """The breadth model on the whole own set and one per own-set fold (fitted without it)."""

    final: Breadth
    folds: tuple[Breadth, ...]


def breadth_models(own: Sequence[Example]) -> BreadthModels:
    """Fit breadth on the own set's answerable questions, labelled by whether their evidence is in two or more
    files (see ``assistant/breadth.py``)."""
    labelled = [e for e in own if e.answerable and e.sources]

    def fitted(examples: Sequence[Example]) -> Breadth:
        return fit_breadth([(e.looked.query, e.looked.intent) for e in examples],
                           [len(set(e.sources)) >= 2 for e in examples])

    return BreadthModels(fitted(labelled), tuple(fitted([e for e in labelled if e.group != fold])
                                                 for fold in range(FOLDS)))


def broadened(sets: Sets, models: BreadthModels, *, in_sample: bool = False) -> Sets:
    """``sets`` with each dev and own example's intent made broad where breadth says its question needs several
    documents: an own question's by the model fitted without its fold (``in_sample``: the final model), dev's by
    the final model."""
    def one(example: Example, model: Breadth) -> Example:
        looked = example.looked
        intent = model.applied(looked.intent, model.probability(looked.query, looked.intent))
        return example if intent == looked.intent else replace(example, looked=replace(looked, intent=intent))

    return replace(sets, dev=[one(e, models.final) for e in sets.dev],
                   own=[one(e, models.final if in_sample else models.folds[e.group]) for e in sets.own])


def breadth_figures(sets: Sets, broad: Sets) -> dict[str, float]:
    """How often the own set's answerable questions whose evidence is in two or more files are made broad
    (recall), how many of those made broad are (precision), out of fold, and the share of dev questions made
    broad."""
    own = [(len(set(e.sources)) >= 2, b.looked.intent.broad)
           for e, b in zip(sets.own, broad.own, strict=True) if e.answerable and e.sources]
    several = [made for needs, made in own if needs]
    made = [needs for needs, made in own if made]
    return {"own_recall": _mean([float(m) for m in several]), "own_precision": _mean([float(n) for n in made]),
            "dev_broad": _mean([float(e.looked.intent.broad) for e in broad.dev])}


def is_partial(example: Example, scores: np.ndarray, parts: Sequence[np.ndarray] = ()) -> bool:
    """Whether the engine would answer partially: an asked fact missing from the best items (of the whole
    question and of each of its parts, scored ``parts``)."""
    return bool(missing_in_best(example.looked.intent, example.looked.evidence, scores, _analyzer(), parts))


def answer_text(example: Example, scores: np.ndarray, numbers: SelectionSettings,
                parts: Sequence[np.ndarray] = ()) -> tuple[str, list[bool]]:
    """The quoted text of the answer the engine would give (refusal aside), and whether each of its
    cited passages holds the question's evidence (own set; empty for squad); ``parts`` are the scores
    against each part of the question."""
    looked = example.looked
    chosen = select(looked.evidence, scores, looked.intent, numbers,
                    list(zip((part.intent for part in looked.parts), parts, strict=False)))
    if not chosen:
        return "", []
    missing = tuple(sorted(missing_in_best(looked.intent, looked.evidence, scores, _analyzer(), parts)))
    text, _ = render(chosen, looked.retrieved, example.snapshot, "fi", missing)
    answer = Answer(text, (), (), False, "fi")
    cited = [looked.retrieved[rank].chunk for rank in dict.fromkeys(c.candidate.rank for c in chosen)]
    relevant = [example.is_relevant(chunk) for chunk in cited] if example.source == "own" else []
    return quoted_text(answer, [lead_line("fi")]), relevant


def selection(sets: Sets, scores: dict[str, np.ndarray], base: SelectionSettings, max_words: float,
              min_precision: float = 0.8, parts: Mapping[str, Sequence[np.ndarray]] | None = None,
              precision_weight: float = PRECISION_WEIGHT, answered: Collection[str] | None = None,
              cache: FoundCache | None = None) -> tuple[SelectionSettings, dict[str, float]]:
    """The numbers with the most dev gold answers plus own keyword recall plus ``precision_weight`` times own
    citation precision (out of fold: a quote more must bring more key facts than it costs in wrong sources),
    with dev answers of at most ``max_words`` words on average and own citation precision at least
    ``min_precision``.

    Coordinate ascent over ``GRID`` (each number in turn, three times over) from each of ``STARTS``; the
    best end wins. ``cache`` is ``selection_figures``'s, shared by searches over the same scores.
    """
    dev = [e for e in sets.dev if e.answerable]
    own = [e for e in sets.own if e.answerable and e.truth]
    seen: dict[SelectionSettings, dict[str, float]] = {}

    def value(numbers: SelectionSettings) -> float:
        if numbers not in seen:
            seen[numbers] = selection_figures(dev, own, scores, numbers, parts, answered, cache)
        figures = seen[numbers]
        if figures["dev_mean_words"] > max_words or figures["own_citation_precision"] < min_precision:
            return figures["own_citation_precision"] - 2.0  # out of bounds: the most precise first
        return (figures["dev_gold_in_answer"] + figures["own_keyword_recall"]
                + precision_weight * figures["own_citation_precision"])

    def ascent(best: SelectionSettings) -> SelectionSettings:
        for _ in range(3):
            for name, values in GRID.items():
                options = [replace(best, **{name: int(v) if name in INTEGER_NUMBERS else v}) for v in values]  # type: ignore[arg-type]
                best = max(options, key=lambda n: (value(n), n == best))
        return best

    first = replace(base, support_ratio=0.5, support_floor=0.05, cover_floor=0.2, source_floor=0.2, broad_ratio=0.3,
                    part_floor=0.2)
    ends = [ascent(replace(first, **start)) for start in STARTS]  # type: ignore[arg-type]
    best = max(ends, key=lambda n: (value(n), -ends.index(n)))
    return best, seen[best]


def answer_found(example: Example, scores: dict[str, np.ndarray], numbers: SelectionSettings,
                 parts: Mapping[str, Sequence[np.ndarray]], cache: FoundCache) -> Found:
    """What ``example``'s answer under ``numbers`` gives the figures (``Found``), kept in ``cache``."""
    key = (example.id, numbers)
    if key not in cache:
        text, relevant = answer_text(example, scores[example.id], numbers, parts.get(example.id, ()))
        cache[key] = ((_mean([keyword_present(k, text) for k in example.truth]), tuple(relevant))
                      if example.source == "own" else (float(gold_in(text, example.truth)), (word_count(text),)))
    return cache[key]


def selection_figures(dev: Sequence[Example], own: Sequence[Example], scores: dict[str, np.ndarray],
                      numbers: SelectionSettings, parts: Mapping[str, Sequence[np.ndarray]] | None = None,
                      answered: Collection[str] | None = None, cache: FoundCache | None = None) -> dict[str, float]:
    """Gold answers and words on dev; keyword recall and citation precision on the own set.

    The words are counted as ``make eval-squad`` counts them: over the dev questions the engine answers
    (``answered``: their ids; all of ``dev`` when not given), since a refused or partial answer says no more
    for quoting less. ``cache`` keeps each example's part of the figures under each set of numbers, for the next
    call with the same scores and parts."""
    parts = parts or {}
    found = cache if cache is not None else {}
    dev_found = [answer_found(e, scores, numbers, parts, found) for e in dev]
    own_found = [answer_found(e, scores, numbers, parts, found) for e in own]
    return {
        "dev_gold_in_answer": _mean([gold for gold, _ in dev_found]),
        "dev_mean_words": _mean([words for (_, (words,)), e in zip(dev_found, dev, strict=True)
                                 if answered is None or e.id in answered]),
        "own_keyword_recall": _mean([share for share, _ in own_found]),
        "own_citation_precision": _mean([_mean(relevant) for _, relevant in own_found if relevant]),
    }


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if len(values) else 0.0


def article_figures(sets: Sets, broad: Sets, answering: AnswerabilityModels, scores: dict[str, np.ndarray],
                    parts: Mapping[str, Sequence[np.ndarray]], base: SelectionSettings,
                    chosen: tuple[float, SelectionSettings], *, max_refused: float, max_refused_own: float,
                    max_words: float, min_precision: float, precision_weight: float, cache: FoundCache | None = None,
                    ) -> dict[str, dict[str, float]]:
    """squad2fi-qa's dev answers as ``make eval-squad`` counts them, with the threshold and the selection numbers
    ``chosen`` on every dev article (``in_sample``) and, for each half of the articles, chosen again on the other
    half (``held_out``): what the choice is worth on articles it never saw.

    The same steps as ``fit_all`` choose them (``Refusals.threshold``, then ``selection`` from ``base`` over the
    answered questions), with the own set as it is; the scored halves' questions are pooled. A refused question's
    answer holds no gold answer, a partial one's quotes may; words are counted over the questions answered.
    """
    articles = sorted({e.group for e in sets.dev})
    groups = np.array([e.group for e in sets.dev])
    probability = answering.probability
    found: FoundCache = cache if cache is not None else {}
    rows: dict[str, list[tuple[bool, str, bool, int]]] = {"in_sample": [], "held_out": []}
    for half in range(min(DEV_ARTICLE_FOLDS, len(articles))):
        chooses = ~np.isin(groups, articles[half::DEV_ARTICLE_FOLDS])  # the other half's questions
        choose = [e for e, kept in zip(sets.dev, chooses, strict=True) if kept]
        threshold = answering.refusals.threshold(max_refused, max_refused_own, dev=chooses)
        answered = answered_ids(choose, probability, threshold, scores, parts)
        numbers, _ = selection(replace(broad, dev=[e for e, kept in zip(broad.dev, chooses, strict=True) if kept]),
                               scores, base, max_words, min_precision, parts, precision_weight, answered, found)
        scored = [(e, wide) for e, wide, kept in zip(sets.dev, broad.dev, chooses, strict=True) if not kept]
        for name, (t, n) in (("in_sample", chosen), ("held_out", (threshold, numbers))):
            outcome = outcomes([e for e, _ in scored], probability, t, scores, parts)
            for e, wide in scored:
                gold, (words,) = answer_found(wide, scores, n, parts, found) if e.answerable else (0.0, (0,))
                rows[name].append((e.answerable, outcome[e.id], bool(gold), int(words)))
    return {name: {
        "gold_in_answer": _mean([float(gold and outcome != "not_found") for answerable, outcome, gold, _ in pooled
                                 if answerable]),
        "mean_words": _mean([float(words) for answerable, outcome, _, words in pooled
                             if answerable and outcome == "answered"]),
        "answerable_refused": _mean([float(outcome != "answered") for answerable, outcome, _, _ in pooled
                                     if answerable]),
        "unanswerable_refused": _mean([float(outcome != "answered") for answerable, outcome, _, _ in pooled
                                       if not answerable]),
    } for name, pooled in rows.items()}


def outcomes(examples: Sequence[Example], probability: dict[str, float], threshold: float,
             scores: dict[str, np.ndarray], parts: Mapping[str, Sequence[np.ndarray]] | None = None,
             ) -> dict[str, str]:
    """Each example's outcome at ``threshold``, as the engine gives it: "not_found", "partial" or "answered"."""
    parts = parts or {}
    return {e.id: "not_found" if probability[e.id] < threshold
            else "partial" if is_partial(e, scores[e.id], parts.get(e.id, ())) else "answered" for e in examples}


def answered_ids(examples: Sequence[Example], probability: dict[str, float], threshold: float,
                 scores: dict[str, np.ndarray], parts: Mapping[str, Sequence[np.ndarray]] | None = None,
                 ) -> frozenset[str]:
    """The answerable examples the engine answers at ``threshold``: neither refused nor partial."""
    outcome = outcomes(examples, probability, threshold, scores, parts)
    return frozenset(e.id for e in examples if e.answerable and outcome[e.id] == "answered")


def refusal_figures(examples: Sequence[Example], probability: dict[str, float], threshold: float,
                    scores: dict[str, np.ndarray], parts: Mapping[str, Sequence[np.ndarray]] | None = None,
                    ) -> dict[str, float]:
    """Answerable and unanswerable questions refused at ``threshold`` (not found, or partial)."""
    outcome = outcomes(examples, probability, threshold, scores, parts)
    refused = {e.id: float(outcome[e.id] != "answered") for e in examples}
    return {"answerable_refused": _mean([refused[e.id] for e in examples if e.answerable]),
            "unanswerable_refused": _mean([refused[e.id] for e in examples if not e.answerable]),
            "partial": _mean([float(outcome[e.id] == "partial") for e in examples])}


def lead_figures(examples: Sequence[Example], scores: dict[str, np.ndarray]) -> float:
    """The share of answerable examples (with a positive candidate) whose best-scored item is a positive."""
    hits = [bool(np.array(e.labels)[int(np.argmax(scores[e.id]))]) for e in examples
            if e.answerable and any(e.labels)]
    return _mean(hits)


def train(dataset: Path, corpus: Path, questions: Sequence[Path], work: Path, out: Path, *, limit: int | None = None,
          max_refused: float = 0.05, max_refused_own: float = 0.10, max_words: float = 40.0,
          min_precision: float = 0.8, precision_weight: float = PRECISION_WEIGHT) -> dict[str, object]:
    """Build the examples, fit both models and the selection numbers, write them under ``out``."""
    sets = build(dataset, corpus, questions, work, limit=limit)
    return fit_all(sets, out, work / "folds", max_refused=max_refused, max_refused_own=max_refused_own,
                   max_words=max_words, min_precision=min_precision, precision_weight=precision_weight)


def fit_all(sets: Sets, out: Path, folds: Path, *, max_refused: float = 0.05, max_refused_own: float = 0.10,
            max_words: float = 40.0, min_precision: float = 0.8, precision_weight: float = PRECISION_WEIGHT
            ) -> dict[str, object]:
    """Fit both models and the selection numbers on built examples; write the models under ``out``
    and the fold models under ``folds``."""
    items = item_models(sets)
    scores = items.scores
    in_sample = {e.id: predict_items(items.final, e.features) for e in sets.own}
    answering = answerability(sets, scores, max_refused, max_refused_own, items.parts)
    breadth = breadth_models(sets.own)
    broad = broadened(sets, breadth)
    base = SelectionSettings.of(Settings())
    threshold = float(answering.final["threshold"])  # type: ignore[arg-type]
    answered = answered_ids(sets.dev, answering.probability, threshold, scores, items.parts)
    found: FoundCache = {}  # the out-of-fold scores' answers, for every search below
    numbers, figures = selection(broad, scores, base, max_words, min_precision, items.parts, precision_weight,
                                 answered, found)
    articles = article_figures(sets, broad, answering, scores, items.parts, base, (threshold, numbers),
                               max_refused=max_refused, max_refused_own=max_refused_own, max_words=max_words,
                               min_precision=min_precision, precision_weight=precision_weight, cache=found)
    found.clear()
    in_sample_sets = broadened(sets, breadth, in_sample=True)
    dev = [e for e in in_sample_sets.dev if e.answerable]
    own = [e for e in in_sample_sets.own if e.answerable and e.truth]
    in_sample_parts = {e.id: tuple(predict_items(items.final, part.evidence.matrix()) for part in e.looked.parts)
                       for e in sets.own}
    in_sample_figures = selection_figures(dev, own, {**scores, **in_sample}, numbers,
                                          {**items.parts, **in_sample_parts}, answered)
    report = {
        "examples": {name: len(getattr(sets, name)) for name in ("train", "dev", "own")},
        "objective": {"max_refused": max_refused, "max_refused_own": max_refused_own, "max_words": max_words,
                      "min_precision": min_precision, "precision_weight": precision_weight},
        "selection": {f"answer_{name}": getattr(numbers, name) for name in GRID},
        "answerable_threshold": threshold,
        "breadth": {"cross_validated": breadth_figures(sets, broad),
                    "in_sample": breadth_figures(sets, in_sample_sets)},
        "lead_is_evidence": {"own_cross_validated": lead_figures(sets.own, scores),
                             "own_in_sample": lead_figures(sets.own, in_sample),
                             "squad_dev": lead_figures(sets.dev, scores)},
        "answers": {"cross_validated": figures, "in_sample": in_sample_figures},
        "refusal": {"own_cross_validated": refusal_figures(sets.own, answering.probability, threshold, scores,
                                                           items.parts),
                    "squad_dev": refusal_figures(sets.dev, answering.probability, threshold, scores, items.parts)},
        "squad_dev_articles": articles,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "item_scorer.txt").write_text(items.final, encoding="utf-8")
    write_json(out / "answerability.json", answering.final)
    write_json(out / "breadth.json", breadth.final.to_json())
    write_json(out / "training.json", report)
    folds.mkdir(parents=True, exist_ok=True)
    for fold, (item, answer, wide) in enumerate(zip(items.folds, answering.folds, breadth.folds, strict=True)):
        item_path, answer_path, breadth_path = fold_models(folds, fold)
        item_path.write_text(item, encoding="utf-8")
        write_json(answer_path, answer)
        write_json(breadth_path, wide.to_json())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Train and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/squad2fi-qa"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--questions", type=Path, nargs="+", default=list(TRAINING_SETS),
                        help="the in-domain question files to learn from")
    parser.add_argument("--work", type=Path, default=Path(".kysy-train"), help="indexes and caches of the training")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where the model files are written")
    parser.add_argument("--limit", type=int, help="questions of each set (a quick run)")
    parser.add_argument("--max-refused", type=float, default=0.05)
    parser.add_argument("--max-refused-own", type=float, default=0.10)
    parser.add_argument("--max-words", type=float, default=40.0)
    parser.add_argument("--min-precision", type=float, default=0.8)
    parser.add_argument("--precision-weight", type=float, default=PRECISION_WEIGHT,
                        help="what the own set's citation precision weighs in the selection's objective")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = train(args.dataset, args.corpus, args.questions, args.work, args.out, limit=args.limit,
                   max_refused=args.max_refused, max_refused_own=args.max_refused_own, max_words=args.max_words,
                   min_precision=args.min_precision, precision_weight=args.precision_weight)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def _with_fixed_hash_seed() -> None:
    """Run again under PYTHONHASHSEED=0: the order sets of words are walked in reaches the features' last
    bits, and LightGBM's splits follow them, so only a fixed seed gives the same model files every run."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, "-m", "eval.train", *sys.argv[1:]],
                  {**os.environ, "PYTHONHASHSEED": "0"})


if __name__ == "__main__":
    _with_fixed_hash_seed()
    raise SystemExit(main())
