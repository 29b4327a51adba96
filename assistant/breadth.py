"""Whether a question needs several documents: a small learned model read by the answer engine.

A question whose answer lies in two or more of the materials ("Miten vuoden 2022 ehdotus ja vuoden 2023
suositukset eroavat?", "Mitä uutinen ja diaesitys kertovat aluepiloteista?") is answered from more than
one source: the selection's ``another source`` step (``assistant/select.py``) quotes the best item of
each further passage scoring ``answer_broad_ratio`` of the lead. Which questions those are is learnt, not
listed: a logistic regression over the question's lemmas (``Query.terms``: an English or Swedish question's
are the glossary's Finnish, so one model reads all three languages) and four signals of its intent (how
many parts it has, how many terms, whether it asks for a list, whether it asks how), fitted by
``make train`` (``eval/train.py``) on the project's own questions, labelled by whether their evidence is in
two or more files. A question is *broad* (``Intent.broad``) when the model's probability reaches the
file's threshold, or when it holds a word of ``words/broad.txt`` ("miten muut alueet").

The file (``assistant/models/breadth.json``) holds the vocabulary, the coefficients, the intercept and the
threshold (``KYSY_BREADTH_THRESHOLD`` overrides it; 1.01 turns the model off). No file, no model: the word
list alone decides.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.intent import Intent
from assistant.query import Query
from assistant.scoring import MODELS_DIR
from kysy.errors import ConfigError

BREADTH_MODEL = MODELS_DIR / "breadth.json"
# The intent signals after the lemmas, in the order of the coefficients' tail.
SIGNALS = ("parts", "terms", "asks_list", "asks_how")


def breadth_signals(query: Query, intent: Intent) -> list[float]:
    """The question's intent signals (``SIGNALS`` order)."""
    return [float(len(intent.parts)), float(len(query.terms)), float(intent.asks("list")), float(intent.asks("how"))]


def breadth_row(query: Query, intent: Intent, index: Mapping[str, int]) -> np.ndarray:
    """The model's features of a question: 1 for each lemma of the vocabulary (``index``: lemma -> column) it
    holds, then its intent signals; the same row for fitting (``eval/fit.py``) and for answering."""
    row = np.zeros(len(index) + len(SIGNALS))
    row[[index[term] for term in set(query.terms) if term in index]] = 1.0
    row[len(index):] = breadth_signals(query, intent)
    return row


class Breadth:
    """The model: ``probability(query, intent)`` that the question needs several documents; ``applied``
    marks the intent broad when it does."""

    def __init__(self, vocabulary: Sequence[str], coefficients: Sequence[float], intercept: float,
                 threshold: float) -> None:
        if len(coefficients) != len(vocabulary) + len(SIGNALS):
            raise ConfigError(f"the breadth model has {len(coefficients)} coefficients for {len(vocabulary)} lemmas "
                              f"and {len(SIGNALS)} signals; rebuild it with `make train`")
        self.vocabulary = tuple(vocabulary)
        self.index = {lemma: i for i, lemma in enumerate(vocabulary)}
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.intercept = intercept
        self.threshold = threshold

    @classmethod
    def load(cls, path: Path = BREADTH_MODEL, threshold: float | None = None) -> Breadth | None:
        """The model in ``path`` (with ``threshold`` instead of the file's when given); None when there is no such
        file."""
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["vocabulary"], data["coefficients"], float(data["intercept"]),
                       float(data["threshold"]) if threshold is None else threshold)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot load the breadth model {path}: {exc}; rebuild it with `make train`") from exc

    def to_json(self) -> dict[str, object]:
        """The model as ``breadth.json`` holds it."""
        return {"vocabulary": list(self.vocabulary), "signals": list(SIGNALS),
                "coefficients": self.coefficients.tolist(), "intercept": self.intercept, "threshold": self.threshold}

    def probability(self, query: Query, intent: Intent) -> float:
        """The probability that the question's answer is in two or more documents."""
        value = self.intercept + float(self.coefficients @ breadth_row(query, intent, self.index))
        return 1.0 / (1.0 + math.exp(-value)) if value > -500 else 0.0

    def applied(self, intent: Intent, probability: float) -> Intent:
        """``intent``, broad also when its question's ``probability`` of needing several documents reaches the
        threshold."""
        return replace(intent, broad=True) if probability >= self.threshold and not intent.broad else intent
