"""The scoring stage: how well each candidate item answers the question, from a learned model.

The model is a LightGBM ranker (lambdarank: the items of one question ranked against each other)
over the evidence stage's features (``assistant/evidence.py``), trained by ``make train``
(``eval/train.py``) on squad2fi-qa's training articles and the project's own questions; it ships as
``assistant/models/item_scorer.txt``. Its raw scores rank; their softmax over the question's items
(``shares``) says how much of the answer each item is, which selection and answerability read.
The file records the feature names it was trained on, so a model and a feature list that disagree
fail at start-up, not at answer time.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.evidence import FEATURES, Evidence
from kysy.errors import ConfigError

MODELS_DIR = Path(__file__).with_name("models")
ITEM_MODEL = MODELS_DIR / "item_scorer.txt"


class ItemScorer:
    """The item model: ``score(evidence)`` gives each candidate's probability of answering."""

    def __init__(self, path: Path = ITEM_MODEL) -> None:
        import lightgbm

        try:
            self._booster = lightgbm.Booster(model_str=path.read_text(encoding="utf-8"))
        except (OSError, lightgbm.basic.LightGBMError) as exc:
            raise ConfigError(f"cannot load the item scoring model {path}: {exc}; rebuild it with `make train`") from exc
        names = tuple(self._booster.feature_name())
        if names != FEATURES:
            raise ConfigError(
                f"the item scoring model {path} was trained on other features ({', '.join(names)}); "
                "rebuild it with `make train`"
            )
        self._lock = threading.Lock()  # one prediction at a time on the shared booster

    def raw(self, evidence: Evidence) -> np.ndarray:
        """Each candidate's ranking score (in ``evidence.candidates`` order)."""
        if not evidence.candidates:
            return np.zeros(0)
        with self._lock:
            return np.asarray(self._booster.predict(evidence.matrix(), num_threads=1), dtype=np.float64)

    def score(self, evidence: Evidence) -> np.ndarray:
        """Each candidate's share of the answer (``shares`` of its ranking score)."""
        return shares(self.raw(evidence))


def shares(raw: np.ndarray) -> np.ndarray:
    """The softmax of one question's ranking scores: each item's share of the answer (sums to 1)."""
    if len(raw) == 0:
        return raw
    exp = np.exp(raw - raw.max())
    return np.asarray(exp / exp.sum())
