"""Optional cross-encoder reranking of the fused candidates (``KYSY_RERANKER`` = a CrossEncoder path).

Off by default: the bundled dense + keyword fusion needs no extra model. When a
sentence-transformers CrossEncoder is configured, it scores (question, chunk) pairs of the fused
candidates and reorders them before ``top_k`` is taken; the cross-encoder score is kept next to
the retrievers' scores.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from kysy.errors import ConfigError
from kysy.models import ScoredChunk

logger = logging.getLogger(__name__)

# Candidates reranked at most (the cross-encoder costs one forward pass per pair).
MAX_CANDIDATES = 30


class CrossEncoderReranker:
    """Reorders scored chunks by a sentence-transformers CrossEncoder."""

    def __init__(self, model_path: str, *, max_candidates: int = MAX_CANDIDATES) -> None:
        if not Path(model_path).exists():
            raise ConfigError(
                f"KYSY_RERANKER={model_path!r}: the model does not exist; set it to a CrossEncoder directory, "
                "or leave it empty for no reranking"
            )
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(model_path, num_labels=1, device="cpu")
        except Exception as exc:
            # Loading fails in many ways (no config, an unknown architecture, missing or damaged weights), all
            # of them a setting pointing at something that is no CrossEncoder: the operator gets one line.
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(
                f"KYSY_RERANKER={model_path!r}: cannot load a CrossEncoder from it ({reason})"
            ) from exc
        self.max_candidates = max_candidates
        self._lock = threading.Lock()

    def rerank(self, question: str, candidates: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The first ``max_candidates`` candidates by cross-encoder score, then the rest unchanged."""
        head, tail = list(candidates[: self.max_candidates]), list(candidates[self.max_candidates :])
        if not head:
            return []
        pairs = [(question, hit.chunk.embed_text) for hit in head]
        with self._lock:
            scores = [float(score) for score in self.model.predict(pairs, show_progress_bar=False)]
        order = sorted(range(len(head)), key=lambda i: (-scores[i], head[i].rank))
        reranked = [
            replace(head[i], score=scores[i], rank=rank, scores=(*head[i].scores, ("rerank", scores[i])))
            for rank, i in enumerate(order, start=1)
        ]
        return reranked + [replace(hit, rank=len(reranked) + n) for n, hit in enumerate(tail, start=1)]


_LOADED: dict[str, CrossEncoderReranker] = {}
_LOADING = threading.Lock()


def make_reranker(model_path: str) -> CrossEncoderReranker | None:
    """The configured reranker, or None when ``model_path`` is empty (the default). Loaded once per process, as
    the embedder is: ``kysy serve`` loads it before it starts (one that cannot be loaded stops it in one line),
    and the server's app, in the same process, takes that one.

    Raises:
        ConfigError: the path holds no CrossEncoder.
    """
    if not model_path:
        return None
    with _LOADING:
        if model_path not in _LOADED:
            logger.info("reranking with the cross-encoder at %s", model_path)
            _LOADED[model_path] = CrossEncoderReranker(model_path)
        return _LOADED[model_path]
