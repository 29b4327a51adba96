"""The scoring stage: how well each candidate item answers the question, from a learned model.

The model is a LightGBM ranker (lambdarank: the items of one question ranked against each other)
over the evidence stage's features (``assistant/evidence.py``), trained by ``make train``
(``eval/train.py``) on squad2fi-qa's training articles and the project's own questions; it ships as
``assistant/models/item_scorer.txt``. Its raw scores rank; their softmax over the question's items
(``shares``) says how much of the answer each item is, which selection and answerability read.
The file records the feature names it was trained on, so a model and a feature list that disagree
fail at start-up, not at answer time.

The file may hold several rankers fitted with different seeds (``MEMBER_SEPARATOR`` between their
LightGBM texts): an item's score is then their mean, which varies less with the sample each was
fitted on than one ranker does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.evidence import FEATURES, Evidence
from kysy.errors import ConfigError

MODELS_DIR = Path(__file__).with_name("models")
ITEM_MODEL = MODELS_DIR / "item_scorer.txt"
MEMBER_SEPARATOR = "\n=== next ranker ===\n"


def load_rankers(text: str) -> list[Any]:
    """The LightGBM rankers of an item model's text (one, or several between ``MEMBER_SEPARATOR``s)."""
    import lightgbm

    return [lightgbm.Booster(model_str=part) for part in text.split(MEMBER_SEPARATOR) if part.strip()]


def mean_raw(rankers: Sequence[Any], features: np.ndarray) -> np.ndarray:
    """The rankers' mean raw score of each row of ``features``."""
    return np.mean([np.asarray(r.predict(features, num_threads=1), dtype=np.float64) for r in rankers], axis=0)


class ItemScorer:
    """The item model: ``score(evidence)`` gives each candidate's probability of answering."""

    def __init__(self, path: Path = ITEM_MODEL) -> None:
        import lightgbm

        try:
            self._rankers = load_rankers(path.read_text(encoding="utf-8"))
        except (OSError, lightgbm.basic.LightGBMError) as exc:
            raise ConfigError(f"cannot load the item scoring model {path}: {exc}; rebuild it with `make train`") from exc
        if not self._rankers:
            raise ConfigError(f"the item scoring model {path} is empty; rebuild it with `make train`")
        names = next((names for names in (tuple(r.feature_name()) for r in self._rankers) if names != FEATURES),
                     FEATURES)
        if names != FEATURES:
            raise ConfigError(
                f"the item scoring model {path} was trained on other features ({', '.join(names)}); "
                "rebuild it with `make train`"
            )
        self._lock = threading.Lock()  # one prediction at a time on the shared rankers

    def raw(self, evidence: Evidence) -> np.ndarray:
        """Each candidate's ranking score (in ``evidence.candidates`` order)."""
        if not evidence.candidates:
            return np.zeros(0)
        with self._lock:
            return mean_raw(self._rankers, evidence.matrix())

    def score(self, evidence: Evidence) -> np.ndarray:
        """Each candidate's share of the answer (``shares`` of its ranking score)."""
        return shares(self.raw(evidence))


def shares(raw: np.ndarray) -> np.ndarray:
    """The softmax of one question's ranking scores: each item's share of the answer (sums to 1)."""
    if len(raw) == 0:
        return raw
    exp = np.exp(raw - raw.max())
    return np.asarray(exp / exp.sum())
