"""Answerability: whether the retrieved items answer the question at all, and whether they hold the
specific fact it asks for. Three outcomes:

- ``answered``;
- ``partial``: the topic is in the materials but the one fact asked (a count, an amount, a date, a day, a
  time, a year, a way to contact, the name of a role's holder: ``Intent.fact``) is not in the best item;
- ``not_found``: the probability that the question is answerable is below the model's threshold.

The probability is a logistic model over question-level signals (``SIGNALS``) of the evidence and
the item scores, trained by ``make train`` (``eval/train.py``) on squad2fi-qa's training questions and
the project's own, and shipped as ``assistant/models/answerability.json`` (coefficients, the feature
scaling and the threshold chosen on held-out questions). It is applied with numpy alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.entities import holds, is_place_name, periods
from assistant.evidence import Evidence
from assistant.intent import Intent
from assistant.query import Query, held_frequency
from assistant.scoring import MODELS_DIR
from ingest.analyze import Analyzer
from ingest.keyword import KeywordIndex
from kysy.errors import ConfigError

ANSWERABILITY_MODEL = MODELS_DIR / "answerability.json"
# The best items (by score) read for the asked fact and the question's names.
BEST_ITEMS = 3
SIGNALS = (
    "best_score", "second_score", "best_similarity", "best_lexical", "best_own", "names_missing", "lead_names_missing",
    "names_unseen", "places_unseen", "lead_other_place", "lead_other_period",
    "numbers_missing", "unseen", "fact_asked", "fact_held", "chunk_dense", "foreign", "question_concepts",
)
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Verdict:
    """The outcome, the probability that the question is answerable, and the signals it was read from."""

    status: str  # "answered" | "partial" | "not_found"
    probability: float
    signals: dict[str, float]
    missing: tuple[str, ...] = ()  # the fact kinds asked and not held (for "partial")


def signals(
    query: Query, intent: Intent, evidence: Evidence, scores: np.ndarray, keyword: KeywordIndex,
    analyzer: Analyzer | None = None,
) -> dict[str, float]:
    """The question-level signals of ``SIGNALS`` (see the module docstring)."""
    candidates = evidence.candidates
    order = np.argsort(-scores) if len(scores) else np.zeros(0, dtype=int)
    best = [candidates[i] for i in order[:BEST_ITEMS]]
    ranked = sorted(scores, reverse=True)
    weights = evidence.weights
    total = sum(weights.values()) or 1.0
    named = set().union(*(c.source for c in candidates))  # "uutisessa": no text says it, a document's kind does
    held = named | {c for c in weights if any(held_frequency(form, keyword) for form in query.variants(c))}
    texts = [c.text for c in best]
    numbers = set(_NUMBER.findall(query.text))
    best_text = " ".join(texts + [" ".join(c.terms) for c in best])
    unseen_names = [name for name in query.names if keyword.document_frequency(name) == 0]
    places = {name for name in query.names if is_place_name(name, analyzer)}
    lead_terms = best[0].terms if best else frozenset()
    asked_periods = periods(query.text)
    lead_periods = periods(" ".join([texts[0], *lead_terms])) if best else frozenset()
    return {
        "best_score": float(ranked[0]) if ranked else 0.0,
        "second_score": float(ranked[1]) if len(ranked) > 1 else 0.0,
        "best_similarity": max((c.feature("similarity") for c in candidates), default=0.0),
        "best_lexical": max((c.feature("lexical") for c in candidates), default=0.0),
        "best_own": max((c.feature("lexical_own") for c in candidates), default=0.0),
        "names_missing": min((c.feature("names_missing") for c in best), default=1.0),
        "lead_names_missing": best[0].feature("names_missing") if best else 1.0,
        "names_unseen": float(bool(unseen_names)),
        "places_unseen": float(any(is_place_name(name, analyzer) for name in unseen_names)),
        "lead_other_place": float(bool(places) and not places & lead_terms
                                  and any(is_place_name(term, analyzer) for term in lead_terms - places)),
        "lead_other_period": float(_other_period(asked_periods, lead_periods)),
        "numbers_missing": float(bool(numbers) and not numbers <= set(_NUMBER.findall(best_text))),
        "unseen": sum(w for c, w in weights.items() if c not in held) / total,
        "fact_asked": float(bool(intent.fact)),
        "fact_held": float(bool(held_facts(intent, texts, analyzer))),
        "chunk_dense": max((c.feature("chunk_dense") for c in candidates), default=0.0),
        "foreign": float(query.language != "fi"),
        "question_concepts": float(len(weights)),
    }


def _other_period(asked: frozenset[str], lead: frozenset[str]) -> bool:
    """Whether the question names a year (or a season or month) that the lead lacks while it names another:
    "Mikä oli kevään 2025 foorumien ohjelma?" against a slide of the autumn's forums."""
    return any(question and held and not question & held
               for question, held in ((_years(asked), _years(lead)), (asked - _years(asked), lead - _years(lead))))


def _years(keys: frozenset[str]) -> frozenset[str]:
    """The years among ``periods`` keys (the seasons and months are words)."""
    return frozenset(key for key in keys if key.isdigit())


def held_facts(intent: Intent, texts: Sequence[str], analyzer: Analyzer | None = None) -> frozenset[str]:
    """The one-fact kinds the question asks that one of ``texts`` holds (what the question states does not count)."""
    return frozenset(kind for kind in intent.fact if any(holds(kind, text, analyzer, intent.given) for text in texts))


def missing_facts(intent: Intent, texts: Sequence[str], analyzer: Analyzer | None = None) -> frozenset[str]:
    """The one-fact kinds the question asks that none of ``texts`` holds (a missing day is said as a missing date
    when no date at all is held)."""
    missing = set(intent.fact - held_facts(intent, texts, analyzer))
    return frozenset(missing - {"day"} if "date" in missing else missing)


def _as_topic(values: dict[str, float]) -> dict[str, float]:
    """The signals of the same question read as asking no one fact."""
    return {**values, "fact_asked": 0.0, "fact_held": 0.0}


class Answerability:
    """The answerability model: ``judge`` gives the outcome of one question."""

    def __init__(self, path: Path = ANSWERABILITY_MODEL, threshold: float | None = None) -> None:
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the answerability model {path}: {exc}; rebuild it with `make train`") from exc
        if tuple(model.get("features", ())) != SIGNALS:
            raise ConfigError(f"the answerability model {path} was trained on other signals; rebuild it with `make train`")
        self.mean = np.array(model["mean"], dtype=np.float64)
        self.scale = np.array(model["scale"], dtype=np.float64)
        self.coef = np.array(model["coef"], dtype=np.float64)
        self.intercept = float(model["intercept"])
        self.threshold = float(model["threshold"]) if threshold is None else threshold

    def probability(self, values: dict[str, float]) -> float:
        """The probability that the question is answerable from these signals."""
        x = (np.array([values[name] for name in SIGNALS]) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept))))

    def judge(self, values: dict[str, float], missing: frozenset[str]) -> Verdict:
        """``not_found`` below the threshold; ``partial`` when an asked fact is missing; else ``answered``.

        A question whose asked fact is missing is ``partial``, not ``not_found``, when its topic alone would
        pass: its probability read as if it asked no one fact (``fact_asked`` and ``fact_held`` 0) reaches
        the threshold. "Paljonko pilottiin osallistuminen maksaa?" then shows what the materials say of
        the costs, with no sum, instead of a list of topics. A question none of whose words the sources hold
        (``unseen`` 1: "Vad är Pirkanmaas budget?") has no topic there, and is ``not_found``.
        """
        probability = self.probability(values)
        topic = bool(missing) and values["unseen"] < 1.0 and self.probability(_as_topic(values)) >= self.threshold
        if probability < self.threshold and not topic:
            return Verdict("not_found", probability, values)
        if missing:
            return Verdict("partial", probability, values, tuple(sorted(missing)))
        return Verdict("answered", probability, values)
