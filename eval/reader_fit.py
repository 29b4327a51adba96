"""Fitting the reader: its top layers and head on cached states of the frozen layers (torch, CPU).

The frozen first ``cut`` layers run once per pair, exactly as at answer time (the embedder's
onnxruntime graph, each pair alone), and their states are kept on disk as float16 (``FrozenStates``),
so an epoch costs only the fine-tuned layers. Those start from the e5 weights of the same layers;
the head starts at zero. Training is deterministic: fixed seeds, torch's deterministic algorithms,
a fixed thread count, batches of similar length in a seeded order. The result is written as
``reader.npz``: the fine-tuned layers under e5.c's tensor names (float16) and the head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.reader import LAYER_PARTS, ReaderShape
from eval.reader_core import fine_tune, make_top
from ingest.e5_format import E5File
from ingest.embed_onnx import OnnxE5Embedder

Progress = Callable[[str, int, int], None]
# Pairs whose frozen states are computed per call (and per progress step).
STATES_BATCH = 64


@dataclass(frozen=True)
class FitSettings:
    """The training's numbers (``eval/train_reader.py`` records them beside the figures)."""

    epochs: int = 2
    batch: int = 32
    learning_rate: float = 1e-4  # of the fine-tuned layers (see UNANSWERABLE_WEIGHT in eval/train_reader.py)
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    dropout: float = 0.1
    seed: int = 17
    threads: int = 2


class FrozenStates:
    """The states after the frozen layers of many pairs, one float16 array with an offset per pair."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def joined(cls, first: FrozenStates, second: FrozenStates) -> FrozenStates:
        """The pairs of ``first`` followed by those of ``second``."""
        return cls(np.concatenate([first.flat, second.flat]),
                   np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]]))

    def get(self, i: int) -> np.ndarray:
        """Pair ``i``'s states, (tokens, hidden) float32."""
        return np.asarray(self.flat[self.offsets[i] : self.offsets[i + 1]], dtype=np.float32)

    def length(self, i: int) -> int:
        """Pair ``i``'s token count."""
        return int(self.offsets[i + 1] - self.offsets[i])

    @classmethod
    def load_or_compute(cls, embedder: OnnxE5Embedder, sequences: Sequence[Sequence[int]], cut: int, path: Path,
                        progress: Progress | None = None) -> FrozenStates:
        """The states kept at ``path`` for exactly these sequences and weights, else computed and kept."""
        report = progress or (lambda stage, advance, total: None)
        key = _key(embedder.e5, cut, sequences)
        meta = path.with_suffix(".json")
        if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("key") == key:
            with np.load(path) as archive:
                return cls(archive["flat"], archive["offsets"])
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(s) for s in sequences])
        flat = np.zeros((int(offsets[-1]), embedder.dim), dtype=np.float16)
        for start in range(0, len(sequences), STATES_BATCH):
            batch = sequences[start : start + STATES_BATCH]
            for i, states in enumerate(embedder.states_of_ids(batch, layer=cut), start=start):
                flat[offsets[i] : offsets[i + 1]] = states
            report(f"frozen layers ({path.stem})", len(batch), len(sequences))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(handle, flat=flat, offsets=offsets)
        meta.write_text(json.dumps({"key": key, "pairs": len(sequences)}), encoding="utf-8")
        return cls(flat, offsets)


def _key(e5: E5File, cut: int, sequences: Sequence[Sequence[int]]) -> str:
    digest = hashlib.sha256(f"{e5.digest}:{cut}".encode())
    for ids in sequences:
        digest.update(np.asarray(ids, dtype=np.int32).tobytes() + b"|")
    return digest.hexdigest()


def initial_tensors(e5: E5File, shape: ReaderShape) -> dict[str, np.ndarray]:
    """The e5 weights of the layers to fine-tune, under e5.c's names (matrices as (outputs, inputs))."""
    tensors: dict[str, np.ndarray] = {}
    for index in range(shape.cut, shape.cut + shape.layers):
        for part in LAYER_PARTS:
            name = f"l{index}.{part}"
            if part.endswith(".w") and part.split(".")[0] in ("q", "k", "v", "ao", "fi", "fo"):
                columns = e5.intermediate if part == "fo.w" else e5.hidden
                tensors[name] = e5.dequantize(name, columns)
            else:
                tensors[name] = np.array(e5.float32(name), dtype=np.float32)
    return tensors


def build_module(tensors: dict[str, np.ndarray], shape: ReaderShape, heads: int, eps: float, dropout: float,
                 head: tuple[np.ndarray, float] | None = None) -> Any:
    """The torch module of the fine-tuned layers and the head (``make_top``; answering needs no torch)."""
    return make_top(tensors, shape.cut, shape.layers, heads, eps, dropout, head)


def padded(states: FrozenStates, rows: Sequence[int] | np.ndarray) -> tuple[Any, Any]:
    """A batch of pairs' states padded to the longest, and their lengths (torch tensors)."""
    import torch

    lengths = [states.length(i) for i in rows]
    batch = np.zeros((len(rows), max(lengths), states.flat.shape[1]), dtype=np.float32)
    for row, i in enumerate(rows):
        batch[row, : lengths[row]] = states.get(i)
    return torch.from_numpy(batch), torch.tensor(lengths)


def fit(states: FrozenStates, labels: np.ndarray, weights: np.ndarray, tensors: dict[str, np.ndarray],
        shape: ReaderShape, heads: int, eps: float, settings: FitSettings,
        after_epoch: Callable[[int, Any], float] | None = None, progress: Progress | None = None) -> Any:
    """Fine-tune the top layers and the head on ``states``; returns the module of the best epoch by
    ``after_epoch(epoch, module)`` (a figure on held-out pairs; higher is better), else the last one."""
    import torch

    report = progress or (lambda stage, advance, total: None)
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(settings.threads)
    module = build_module(tensors, shape, heads, eps, settings.dropout)
    lengths = np.array([states.length(i) for i in range(len(states))])
    return fine_tune(module, lengths, labels, weights, lambda rows: padded(states, rows), epochs=settings.epochs,
                     batch=settings.batch, learning_rate=settings.learning_rate,
                     head_learning_rate=settings.head_learning_rate, weight_decay=settings.weight_decay,
                     warmup=settings.warmup, seed=settings.seed, after_epoch=after_epoch,
                     on_step=lambda steps: report("fine-tuning", 1, steps))


def logits(module: Any, states: FrozenStates, rows: Sequence[int] | None = None, batch: int = 64) -> np.ndarray:
    """The module's logits of pairs ``rows`` (all by default), without dropout."""
    import torch

    rows = list(range(len(states))) if rows is None else list(rows)
    order = sorted(range(len(rows)), key=lambda i: states.length(rows[i]))
    out = np.zeros(len(rows))
    module.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            x, n = padded(states, [rows[i] for i in part])
            out[part] = module(x, n).numpy()
    return out


def export(module: Any, shape: ReaderShape) -> dict[str, np.ndarray]:
    """The fine-tuned layers (float16, e5.c's names) and the head, as ``reader.npz`` holds them."""
    tensors: dict[str, np.ndarray] = {}
    for offset, layer in enumerate(module.layers):
        p = f"l{shape.cut + offset}"
        for name in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln"):
            part = getattr(layer, name)
            tensors[f"{p}.{name}.w"] = part.weight.detach().numpy().astype(np.float16)
            tensors[f"{p}.{name}.b"] = part.bias.detach().numpy().astype(np.float16)
    tensors["head.w"] = module.head.weight.detach().numpy().reshape(-1).astype(np.float32)
    tensors["head.b"] = module.head.bias.detach().numpy().astype(np.float32).reshape(())
    return tensors


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as a compressed ``.npz`` with fixed entry dates and order: the same weights, the same bytes."""
    import io
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def rounded(module: Any, shape: ReaderShape, heads: int, eps: float) -> Any:
    """The module with the exported (float16) weights: what ships, for the figures."""
    return from_exported(export(module, shape), shape, heads, eps)


def from_exported(exported: dict[str, np.ndarray], shape: ReaderShape, heads: int, eps: float) -> Any:
    """The module of exported tensors (``export``'s or ``reader.npz``'s)."""
    tensors = dict(exported)
    head = (np.asarray(tensors.pop("head.w")), float(tensors.pop("head.b")))
    full = {name: value.astype(np.float32) for name, value in tensors.items()}
    return build_module(full, shape, heads, eps, 0.0, head)
