"""Fitting the answer engine's models: the item scorer (LightGBM), answerability and breadth (logistic
regressions).

All are deterministic: fixed seeds, LightGBM's deterministic row-wise mode, scikit-learn's lbfgs.
The item scorer is written in LightGBM's text format, answerability and breadth as JSON coefficients that
``assistant/answerability.py`` and ``assistant/breadth.py`` apply without scikit-learn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answerability import SIGNALS
from assistant.breadth import SIGNALS as BREADTH_SIGNALS
from assistant.breadth import Breadth, breadth_row
from assistant.evidence import FEATURES
from assistant.intent import Intent
from assistant.query import Query
from assistant.scoring import MEMBER_SEPARATOR, load_rankers, mean_raw, shares

ITEM_PARAMS: dict[str, object] = {
    "objective": "lambdarank",
    "lambdarank_truncation_level": 5,
    "learning_rate": 0.07,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
ITEM_ROUNDS = 200
# Rankers fitted with these seeds (each its own rows and features sampled) are averaged.
ITEM_SEEDS = (7, 8, 9, 10, 11)
# The breadth model's lemmas are those of at least this many training questions; its regularisation and
# threshold (the probability at which a question is taken to need several documents).
BREADTH_MIN_QUESTIONS = 3
BREADTH_C = 0.3
BREADTH_THRESHOLD = 0.5


def fit_items(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, weights: np.ndarray | None = None) -> str:
    """LightGBM item rankers (one per seed of ``ITEM_SEEDS``) fitted on candidate rows, ``groups`` giving
    each question's row count in order; returns their LightGBM texts joined by ``MEMBER_SEPARATOR``."""
    import lightgbm

    data = lightgbm.Dataset(features, label=labels.astype(np.float64), group=groups, weight=weights,
                            feature_name=list(FEATURES), free_raw_data=False)
    texts = [lightgbm.train({**ITEM_PARAMS, "seed": seed}, data, num_boost_round=ITEM_ROUNDS).model_to_string()
             for seed in ITEM_SEEDS]
    return MEMBER_SEPARATOR.join(texts)


def predict_items(model: str, features: np.ndarray) -> np.ndarray:
    """One question's item shares under a text-format item model (``assistant.scoring.shares``)."""
    if len(features) == 0:
        return np.zeros(0)
    return shares(mean_raw(_rankers(model), features))


@functools.lru_cache(maxsize=16)
def _rankers(model: str) -> list[Any]:
    return load_rankers(model)


def fit_answerability(signals: np.ndarray, answerable: np.ndarray, weights: np.ndarray | None = None,
                      c: float = 1.0) -> dict[str, object]:
    """A logistic regression over question-level ``SIGNALS`` rows; returns its JSON form (no threshold yet)."""
    from sklearn.linear_model import LogisticRegression

    mean = signals.mean(axis=0)
    scale = signals.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000, solver="lbfgs")
    model.fit((signals - mean) / scale, answerable.astype(int), sample_weight=weights)
    return {
        "features": list(SIGNALS),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


def answerable_probability(model: dict[str, object], signals: np.ndarray) -> np.ndarray:
    """The model's probabilities for ``signals`` rows (the same formula as ``Answerability.probability``)."""
    mean = np.array(model["mean"], dtype=np.float64)
    scale = np.array(model["scale"], dtype=np.float64)
    coef = np.array(model["coef"], dtype=np.float64)
    logits = ((signals - mean) / scale) @ coef + float(model["intercept"])  # type: ignore[arg-type]
    return np.asarray(1.0 / (1.0 + np.exp(-logits)))


def threshold_for(probabilities: Sequence[np.ndarray], answerable: Sequence[np.ndarray], limits: Sequence[float],
                  refused: Sequence[np.ndarray] | None = None) -> float:
    """The highest threshold that refuses at most ``limits[i]`` of the answerable questions of each set ``i``.

    ``refused[i]`` marks questions of set ``i`` that are refused whatever the threshold (partial answers).
    """
    fixed = refused or [np.zeros(len(p), dtype=bool) for p in probabilities]
    candidates = np.unique(np.concatenate([p for p in probabilities] + [np.array([0.0])]))
    best = 0.0
    for threshold in candidates:
        if all(((p[a] < threshold) | f[a]).mean() <= limit if a.any() else True
               for p, a, limit, f in zip(probabilities, answerable, limits, fixed, strict=True)):
            best = max(best, float(threshold))
    return best


def fit_breadth(questions: Sequence[tuple[Query, Intent]], several: Sequence[bool]) -> Breadth:
    """The breadth model (``assistant/breadth.py``) fitted on questions labelled by whether their evidence is in
    two or more documents."""
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    for query, _ in questions:
        for term in set(query.terms):
            counts[term] = counts.get(term, 0) + 1
    vocabulary = sorted(term for term, count in counts.items() if count >= BREADTH_MIN_QUESTIONS)
    index = {term: i for i, term in enumerate(vocabulary)}
    rows = np.array([breadth_row(query, intent, index) for query, intent in questions]).reshape(
        len(questions), len(vocabulary) + len(BREADTH_SIGNALS))
    labels = np.asarray(several, dtype=int)
    if len(set(labels.tolist())) < 2:  # one kind of question only (a tiny sample): the same answer for every question
        return Breadth(vocabulary, [0.0] * rows.shape[1], 30.0 if labels.any() else -30.0, BREADTH_THRESHOLD)
    model = LogisticRegression(C=BREADTH_C, max_iter=5000, solver="lbfgs")
    model.fit(rows, labels)
    return Breadth(vocabulary, model.coef_[0].tolist(), float(model.intercept_[0]), BREADTH_THRESHOLD)


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as indented JSON (sorted keys, so reruns give identical files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
