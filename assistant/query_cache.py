"""Question vectors remembered in memory: a bounded LRU keyed by the normalised question.

An example question of the demo page or a question asked again costs no embedding. The key is the
question in Unicode NFC with its whitespace collapsed, and that key is what gets embedded, so a
question's vector is the same whether it came from the cache or not.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ingest.embed import Embedder


def normalize_question(text: str) -> str:
    """NFC, whitespace runs as one space, no space at the ends."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class QueryCache:
    """An embedder whose query vectors are kept (up to ``size``, least recently used dropped)."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        if size < 1:
            raise ValueError(f"query cache size must be >= 1, got {size}")
        self.embedder = embedder
        self.name = embedder.name
        self.dim = embedder.dim
        self.size = size
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages are not cached here (ingestion has its on-disk cache)."""
        return self.embedder.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of the normalised questions, embedding only those not kept."""
        keys = [normalize_question(text) for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    found[key] = vector
            missing = list(dict.fromkeys(key for key in keys if key not in found))
            self.hits += len(keys) - len(missing)
            self.misses += len(missing)
        if missing:
            vectors = self.embedder.embed_queries(missing)
            with self._lock:
                for key, vector in zip(missing, vectors, strict=True):
                    vector.setflags(write=False)
                    found[key] = self._vectors[key] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[key] for key in keys])


def cache_queries(embedder: Embedder, size: int) -> Embedder:
    """``embedder`` with a query cache of ``size`` (0 = none); an already cached one is kept as it is."""
    if size == 0 or isinstance(embedder, QueryCache):
        return embedder
    return QueryCache(embedder, size)
