"""The reader: whether a candidate item answers the question, read as a cross-encoder.

The retrieval signals that scoring and answerability see (similarities, coverage, BM25) cannot tell
an answer from a near miss: "Montako kuntaa Lapin pilotissa on mukana?" finds the pilot's slide list
as surely as a question the list answers. The reader reads the question and one item together:

    <s> query: <question> </s> passage: <context>: <item> </s>

where the context is the item's heading or its list's lead-in (else its document's title). It is
multilingual-e5-small, the embedder's own weights: the first ``cut`` layers exactly as the embedder
runs them (onnxruntime, int8, frozen), then ``layers`` layers fine-tuned by ``make train-reader``
(``eval/train_reader.py``) and a linear head over the ``<s>`` state and the mean state. Only the
fine-tuned layers and the head ship (``assistant/models/reader.npz``); they run as a small float32
onnxruntime graph. ``reader.json`` holds the shape, the weights' digest it was trained on, and the
numbers chosen on held-out questions: the refusal threshold and the blend weight.

The answer engine reads the best ``KYSY_READER_ITEMS`` items by score (``read``): their scores are
re-blended with the reader's probabilities (``blend``: the items' share of the answer kept, their
order the reader's say as much as ``weight`` gives it), and the question is refused when no item
read reaches the threshold.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answerability import Verdict
from assistant.evidence import Looked
from assistant.scoring import MODELS_DIR
from ingest.e5_graph import INPUT_LENGTHS, INPUT_STATES, OUTPUT_HIDDEN, layers_graph
from ingest.e5_tokenize import PASSAGE_PREFIX, QUERY_PREFIX, E5Tokenizer
from ingest.embed_onnx import OnnxE5Embedder
from kysy.errors import ConfigError
from kysy.models import content_hash
from kysy.settings import Settings

logger = logging.getLogger(__name__)

READER_MODEL = MODELS_DIR / "reader.npz"
READER_CONFIG = MODELS_DIR / "reader.json"
# The parts of one layer, in e5.c's names (``l10.q.w``): matrices are (outputs, inputs).
LAYER_PARTS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
               "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


@dataclass(frozen=True)
class Limits:
    """Tokens kept of each part of a pair (the prefix words included): the reader's cost is their sum."""

    question: int = 32
    context: int = 16
    item: int = 64


@dataclass(frozen=True)
class ReaderShape:
    """Which layers are frozen and which fine-tuned, and how pairs are cut."""

    cut: int  # the first ``cut`` layers run frozen (the embedder's graph)
    layers: int  # the fine-tuned layers after them
    limits: Limits = field(default_factory=Limits)

    def to_json(self) -> dict[str, object]:
        """The shape as ``reader.json`` records it."""
        return {"cut": self.cut, "layers": self.layers, "limits": self.limits.__dict__}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ReaderShape:
        """The shape recorded in ``reader.json``."""
        return cls(int(value["cut"]), int(value["layers"]), Limits(**value.get("limits", {})))


def encode_pair(tokenizer: E5Tokenizer, question: str, context: str, item: str, limits: Limits) -> tuple[int, ...]:
    """The model input of one question and item: ``<s> query: q </s> passage: context: item </s>``."""
    vocabulary = tokenizer.vocabulary
    asked = tokenizer.encode(QUERY_PREFIX + question).ids[: limits.question]
    head = tokenizer.encode(PASSAGE_PREFIX + (f"{context}:" if context else "")).ids[: limits.context]
    body = tokenizer.encode(item).ids[: limits.item]
    return (vocabulary.bos, *asked, vocabulary.eos, *head, *body, vocabulary.eos)


@dataclass(frozen=True)
class LayerTensors:
    """Fine-tuned layers' tensors under e5.c's names: what ``ingest.e5_graph.layers_graph`` builds from."""

    tensors: dict[str, np.ndarray]
    hidden: int
    heads: int
    intermediate: int
    eps: float

    def dequantize(self, name: str, columns: int) -> np.ndarray:
        """A matrix, (outputs, ``columns``) float32."""
        return np.asarray(self.tensors[name], dtype=np.float32).reshape(-1, columns)

    def float32(self, name: str) -> np.ndarray:
        """A vector, float32."""
        return np.asarray(self.tensors[name], dtype=np.float32)


def head_logits(states: Sequence[np.ndarray], weight: np.ndarray, bias: float) -> np.ndarray:
    """The head: a linear map of each sequence's ``<s>`` state beside its mean state."""
    if not states:
        return np.zeros(0)
    features = np.stack([np.concatenate([s[0], s.mean(axis=0)]) for s in states])
    return np.asarray(features @ weight + bias, dtype=np.float64).reshape(-1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def blend(scores: np.ndarray, items: Sequence[int], probabilities: np.ndarray, weight: float) -> np.ndarray:
    """Scores with those of ``items`` re-weighed by the reader: the items keep their total share,
    redistributed by ``log score + weight * logit(probability)`` (``weight`` 0 changes nothing)."""
    if not len(items) or weight == 0:
        return scores
    index = np.asarray(items, dtype=int)
    top = scores[index]
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    z = np.log(np.maximum(top, 1e-12)) + weight * np.log(p / (1 - p))
    share = np.exp(z - z.max())
    blended = scores.astype(np.float64).copy()
    blended[index] = top.sum() * share / share.sum()
    return blended


@dataclass(frozen=True)
class Reading:
    """What the reader made of one question: the items read (candidate indices, best score first),
    their probabilities of answering, and the scores after the blend."""

    items: tuple[int, ...]
    probabilities: tuple[float, ...]
    scores: np.ndarray

    @property
    def best(self) -> float:
        """The highest probability among the items read (0 when none was read)."""
        return max(self.probabilities, default=0.0)


class Reader:
    """The fine-tuned layers and head on top of the embedder's frozen layers, with the numbers
    ``make train-reader`` chose (``Settings.reader_*`` may override them)."""

    def __init__(self, embedder: OnnxE5Embedder, model: Path = READER_MODEL, config: Path = READER_CONFIG, *,
                 items: int = 4, threshold: float | None = None, weight: float | None = None) -> None:
        try:
            recorded = json.loads(config.read_text(encoding="utf-8"))
            with np.load(model) as archive:
                tensors = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot load the reader {model} / {config}: {exc}; rebuild it with `make train-reader`") from exc
        e5 = embedder.e5
        if recorded.get("weights") != e5.digest[:16]:
            raise ConfigError(f"the reader {model} was trained on other e5 weights; rebuild it with `make train-reader`")
        self.embedder = embedder
        self.items = items
        self.shape = ReaderShape.from_json(recorded["shape"])
        self.threshold = float(recorded["threshold"]) if threshold is None else threshold
        self.weight = float(recorded["weight"]) if weight is None else weight
        self._answerable = (str(recorded.get("answerability_model", "")), float(recorded.get("answerable_threshold", 1.0)))
        self.head_weight = np.asarray(tensors.pop("head.w"), dtype=np.float32)
        self.head_bias = float(tensors.pop("head.b"))
        layers = LayerTensors(tensors, e5.hidden, e5.heads, e5.intermediate, float(e5.eps))
        self._graph = layers_graph(layers, self.shape.cut, self.shape.layers)
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> Reader:
        """The bundled reader with ``settings``' numbers, on the process's e5-onnx embedder."""
        from ingest.embed import make_embedder

        embedder = make_embedder("e5-onnx", threads=settings.embed_thread_count)
        if not isinstance(embedder, OnnxE5Embedder):
            raise ConfigError("the reader needs the e5-onnx embedder's weights")
        return cls(embedder, items=settings.reader_items, threshold=settings.reader_threshold,
                   weight=settings.reader_weight)

    def answerable_threshold(self, model: Path, own: float) -> float:
        """The answerability threshold under the reader: the one chosen beside the reader's when ``model``
        is the answerability model it was chosen with, else that model's ``own``."""
        digest, threshold = self._answerable
        if content_hash(model.read_bytes())[:16] != digest:
            logger.warning("the reader was fitted beside another answerability model (%s): its own threshold applies; "
                           "rerun `make train-reader`", model)
            return own
        return threshold

    def _session(self, threads: int) -> Any:
        from ingest.embed_onnx import make_session

        with self._lock:
            if threads not in self._sessions:
                self._sessions[threads] = make_session(self._graph, threads)
            return self._sessions[threads]

    def encode(self, question: str, context: str, item: str) -> tuple[int, ...]:
        """One pair's model input."""
        return encode_pair(self.embedder.tokenizer, question, context, item, self.shape.limits)

    def logits(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """The head's logit of each model input (each run alone, so none depends on the others)."""
        frozen = self.embedder.states_of_ids(sequences, layer=self.shape.cut)
        session = self._session(1)
        states = [session.run([OUTPUT_HIDDEN], {INPUT_STATES: s[None], INPUT_LENGTHS: np.array([len(s)], np.int32)})[0][0]
                  for s in frozen]
        return head_logits(states, self.head_weight, self.head_bias)

    def probabilities(self, question: str, items: Sequence[tuple[str, str]]) -> np.ndarray:
        """Each ``(context, item)``'s probability of answering ``question``."""
        return sigmoid(self.logits([self.encode(question, context, text) for context, text in items]))

    def read(self, looked: Looked, scores: np.ndarray) -> Reading:
        """Read the best ``items`` candidates of ``looked`` by ``scores`` and blend their scores."""
        candidates = looked.evidence.candidates
        order = tuple(int(i) for i in np.argsort(-scores, kind="stable")[: self.items])
        pairs = [(context_of(looked, i), candidates[i].text) for i in order]
        probabilities = self.probabilities(looked.query.text, pairs) if pairs else np.zeros(0)
        blended = blend(scores, order, probabilities, self.weight)
        return Reading(order, tuple(float(p) for p in probabilities), blended)


def gate(verdict: Verdict, reading: Reading, threshold: float, answerable_threshold: float,
         missing: frozenset[str]) -> Verdict:
    """The verdict under the reader: ``not_found`` when no item read reaches ``threshold`` or the
    answerability model's probability is below ``answerable_threshold``; otherwise partial or answered."""
    if reading.best < threshold or verdict.probability < answerable_threshold:
        return Verdict("not_found", verdict.probability, verdict.signals)
    if missing:
        return Verdict("partial", verdict.probability, verdict.signals, tuple(sorted(missing)))
    return Verdict("answered", verdict.probability, verdict.signals)


def context_of(looked: Looked, index: int) -> str:
    """What the reader reads above candidate ``index``: its heading or list lead-in, else its document's title."""
    candidate = looked.evidence.candidates[index]
    return candidate.place.heading or looked.retrieved[candidate.rank].chunk.title
