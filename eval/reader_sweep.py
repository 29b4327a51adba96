"""Reader shapes compared on any torch device: how many of e5's layers to fine-tune, and whether
more adversarial questions would help.

``make train-reader`` fits the reader's top layers on cached states of its frozen layers, on two
cores. Fine-tuning more of the model (or all of it) needs the whole model in every step, which is a
job for an accelerator, and such a machine may have torch without this project's packages. So:

- ``export`` (here) writes one file with everything a fit needs: the training and evaluation pairs
  exactly as ``make train-reader`` builds them (token ids, labels, which question and item each
  is), and the e5 weights they use, the vocabulary cut to the tokens the pairs hold (about 17 MB);
- ``fit`` and ``articles`` (anywhere with numpy and torch, a GPU when there is one) read only that
  file and this repository's ``eval/reader_core.py`` and ``ingest/e5_format.py``.

    python -m eval.reader_sweep export --work .kysy-reader --out reader-pairs.npz
    python -m eval.reader_sweep fit reader-pairs.npz --cut 0 --layers 12 --learning-rate 3e-5 --epochs 3
    python -m eval.reader_sweep articles reader-pairs.npz --cut 6 --layers 2 --epochs 2
    python -m eval.reader_sweep own reader-pairs.npz --epochs 1

``fit`` fine-tunes layers ``cut .. cut + layers - 1`` and the head (the lower layers frozen, run in
every step), with ``make train-reader``'s pairs, weights and schedule, and prints each epoch's
question AUC (answerable against unanswerable, by the best probability among the first four items
read) and item AUC on squad2fi-qa's dev articles, the question set and the held-out set.
``articles`` asks whether more adversarial questions would help: it trains also on the dev articles
outside one fold of them and scores that fold, fold by fold, beside the reader trained without them;
``own`` does the same with the question set's folds, then trains on the whole question set and scores
the held-out set.
The frozen layers run in float32 here, not int8 as in the product; the shipped reader's question AUC
on dev is 0.6265 on float32 states against 0.6269 on int8 ones. Figures only: nothing here ships.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.reader_core import attention_mask, auc, fine_tune, make_layer, make_top, top_logits
from ingest.e5_format import dequantize_q4

SETS = ("train", "swap", "dev", "own", "holdout")
ITEMS = 4  # items read per question (the product's KYSY_READER_ITEMS)
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def export(work: Path, out: Path, dataset: Path, corpus: Path, questions: Path, holdout: Path, *,
           limit: int | None = None, negatives: int = 5) -> dict[str, int]:
    """Write the pairs of ``make train-reader`` (its examples under ``work``, made when missing) and the
    e5 weights they need to ``out``; returns the pairs per set."""
    from eval.reader_swaps import swap_examples
    from eval.squad import load_split
    from eval.train_reader import SHAPE, build, pairs
    from ingest.embed import make_embedder
    from ingest.embed_onnx import OnnxE5Embedder

    sets = build(dataset, corpus, questions, holdout, work, limit=limit)
    embedder = make_embedder("e5-onnx", threads=2)
    assert isinstance(embedder, OnnxE5Embedder)
    e5 = embedder.e5
    sets["swap"] = swap_examples(sets["train"], load_split(dataset, "train"))
    rows = {name: pairs(embedder, sets[name], SHAPE.limits, negatives=negatives if name in ("train", "swap") else None)
            for name in SETS}
    used = sorted({i for r in rows.values() for s in r.sequences for i in s})
    remap = np.zeros(max(used) + 1, dtype=np.int32)
    remap[used] = np.arange(len(used))
    arrays: dict[str, np.ndarray] = {}
    for name, r in rows.items():
        examples = sets[name]
        arrays |= {
            f"{name}.ids": remap[np.array([i for s in r.sequences for i in s], dtype=np.int64)],
            f"{name}.offsets": np.concatenate([[0], np.cumsum([len(s) for s in r.sequences])]).astype(np.int64),
            f"{name}.labels": r.labels, f"{name}.example": r.example.astype(np.int32),
            f"{name}.item": r.item.astype(np.int32),
            f"{name}.answerable": np.array([e.answerable for e in examples], dtype=bool),
            f"{name}.group": np.array([e.group for e in examples], dtype=np.int32),
        }
    for name, tensor in e5.tensors.items():
        if name == "emb.word":
            tensor = e5.blocks(name, e5.hidden)[np.array(used)].reshape(-1)
        if tensor.dtype.names:  # Q4 blocks: their scales and nibbles
            arrays[f"w.{name}.d"], arrays[f"w.{name}.qs"] = np.ascontiguousarray(tensor["d"]), np.ascontiguousarray(tensor["qs"])
        else:
            arrays[f"w.{name}"] = np.asarray(tensor)
    shape = {"hidden": e5.hidden, "heads": e5.heads, "intermediate": e5.intermediate, "eps": float(e5.eps),
             "layers": e5.layers, "weights": e5.digest[:16]}
    arrays["shape"] = np.frombuffer(json.dumps(shape).encode(), dtype=np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return {name: len(r.labels) for name, r in rows.items()}


@dataclass
class PairSet:
    """One set's pairs (token ids cut to the exported vocabulary) and its questions."""

    sequences: list[np.ndarray]
    labels: np.ndarray
    example: np.ndarray
    item: np.ndarray
    answerable: np.ndarray
    group: np.ndarray


class Exported:
    """An exported file: its pair sets, and e5's weights as float32 under e5.c's names."""

    def __init__(self, path: Path, limit: int | None = None) -> None:
        with np.load(path) as archive:
            data = {name: archive[name] for name in archive.files}
        self.shape = json.loads(bytes(data["shape"]).decode())
        hidden, inner = self.shape["hidden"], self.shape["intermediate"]
        self.weights: dict[str, np.ndarray] = {}
        for key in data:
            if not key.startswith("w.") or key.endswith(".qs"):
                continue
            name = key[2:].removesuffix(".d")
            if key.endswith(".d"):
                blocks = np.empty(data[key].shape, dtype=_BLOCK)
                blocks["d"], blocks["qs"] = data[key], data[f"w.{name}.qs"]
                self.weights[name] = dequantize_q4(blocks.reshape(-1, (inner if name.endswith("fo.w") else hidden) // 32))
            else:
                self.weights[name] = data[key]
        self.sets = {name: self._set(data, name, limit) for name in SETS}

    @staticmethod
    def _set(data: dict[str, np.ndarray], name: str, limit: int | None) -> PairSet:
        ids, offsets = data[f"{name}.ids"], data[f"{name}.offsets"]
        example = data[f"{name}.example"]
        rows = np.arange(len(example)) if limit is None else np.nonzero(example < limit)[0]
        questions = len(data[f"{name}.answerable"]) if limit is None else min(limit, len(data[f"{name}.answerable"]))
        return PairSet([ids[offsets[i] : offsets[i + 1]] for i in rows], data[f"{name}.labels"][rows], example[rows],
                       data[f"{name}.item"][rows], data[f"{name}.answerable"][:questions], data[f"{name}.group"][:questions])


def build_model(exported: Exported, cut: int, layers: int, dropout: float) -> Any:
    """The whole reader: e5's embeddings and first ``cut`` layers frozen, ``layers`` layers and a zero head trained."""
    import torch

    weights, shape = exported.weights, exported.shape
    hidden, heads, eps = shape["hidden"], shape["heads"], shape["eps"]

    class Reader(torch.nn.Module):
        word: torch.Tensor
        position: torch.Tensor
        token_type: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("word", torch.tensor(weights["emb.word"]))
            self.register_buffer("position", torch.tensor(weights["emb.pos"].reshape(-1, hidden)))
            self.register_buffer("token_type", torch.tensor(weights["emb.type"][:hidden]))
            self.norm = torch.nn.LayerNorm(hidden, eps=eps)
            self.norm.weight.data.copy_(torch.tensor(weights["emb.ln.w"]))
            self.norm.bias.data.copy_(torch.tensor(weights["emb.ln.b"]))
            self.frozen = torch.nn.ModuleList(make_layer(weights, i, heads, eps, 0.0) for i in range(cut))
            for module in (self.norm, self.frozen):
                module.requires_grad_(False)
            top = make_top(weights, cut, layers, heads, eps, dropout)  # make train-reader's layers and head
            self.layers, self.head = top.layers, top.head

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            tokens = ids.shape[1]
            _, mask = attention_mask(lengths, tokens)
            with torch.no_grad():
                x = self.norm(self.word[ids] + self.position[:tokens][None] + self.token_type)
                for layer in self.frozen:
                    x = layer.eval()(x, mask)
            return top_logits(self.layers, self.head, x, lengths)  # type: ignore[no-any-return]

    return Reader()


def _batch(sequences: Sequence[np.ndarray], rows: Sequence[int] | np.ndarray, device: str) -> tuple[Any, Any]:
    import torch

    lengths = [len(sequences[i]) for i in rows]
    ids = np.zeros((len(rows), max(lengths)), dtype=np.int64)
    for row, i in enumerate(rows):
        ids[row, : lengths[row]] = sequences[i]
    return torch.from_numpy(ids).to(device), torch.tensor(lengths, dtype=torch.float32, device=device)


def probabilities(model: Any, pairs: PairSet, device: str, batch: int = 256) -> np.ndarray:
    """The model's probability of every pair (no dropout)."""
    import torch

    order = np.argsort([len(s) for s in pairs.sequences], kind="stable")
    out = np.zeros(len(pairs.sequences))
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            out[part] = torch.sigmoid(model(*_batch(pairs.sequences, part, device))).cpu().numpy()
    return out


def best_read(pairs: PairSet, values: np.ndarray, items: int = ITEMS) -> np.ndarray:
    """Each question's best probability among its first ``items`` items read."""
    best = np.zeros(len(pairs.answerable))
    for example, item, value in zip(pairs.example, pairs.item, values, strict=True):
        if item < items:
            best[example] = max(best[example], value)
    return best


def figures(model: Any, pairs: PairSet, device: str) -> dict[str, float | None]:
    """Question AUC (best of the items read; answerable against unanswerable) and item AUC."""
    values = probabilities(model, pairs, device)
    return {"question_auc": auc(best_read(pairs, values), pairs.answerable), "item_auc": auc(values, pairs.labels)}


def fit(exported: Exported, cut: int, layers: int, *, learning_rate: float, epochs: int, device: str,
        unanswerable_weight: float = 4.0, swap_weight: float = 3.0, seed: int = 17, batch: int = 32,
        head_learning_rate: float = 1e-3, dropout: float = 0.1, weight_decay: float = 0.01, warmup: float = 0.06,
        also: dict[str, np.ndarray] | None = None, report: bool = True) -> tuple[Any, list[dict[str, object]]]:
    """Fine-tune as ``make train-reader`` does (its pairs, weights and schedule); ``also`` names rows of
    other sets' pairs to train on too (``{"dev": rows}``). Returns the model of the best epoch by dev's
    question AUC (the last one when ``report`` is off) and each epoch's figures."""
    import torch

    torch.manual_seed(seed)
    train, swap = exported.sets["train"], exported.sets["swap"]
    sequences = train.sequences + swap.sequences
    labels = np.concatenate([train.labels, swap.labels]).astype(np.float32)
    weights = np.concatenate([np.where(train.answerable[train.example], 1.0, unanswerable_weight),
                              np.full(len(swap.labels), swap_weight)]).astype(np.float32)
    for name, rows in (also or {}).items():
        extra = exported.sets[name]
        sequences = sequences + [extra.sequences[i] for i in rows]
        labels = np.concatenate([labels, extra.labels[rows].astype(np.float32)])
        weights = np.concatenate([weights, np.where(extra.answerable[extra.example[rows]], 1.0,
                                                    unanswerable_weight).astype(np.float32)])
    model = build_model(exported, cut, layers, dropout).to(device)
    history: list[dict[str, object]] = []
    mark = [time.perf_counter()]  # when the epoch's training started

    def after_epoch(epoch: int, module: Any) -> float:
        row: dict[str, object] = {"cut": cut, "layers": layers, "learning_rate": learning_rate, "epoch": epoch + 1,
                                  "seconds": round(time.perf_counter() - mark[0], 1)}
        for name in ("dev", "own", "holdout"):
            row |= {f"{name}_{key}": value for key, value in figures(module, exported.sets[name], device).items()}
        history.append(row)
        print(json.dumps(row), flush=True)
        mark[0] = time.perf_counter()
        return float(row["dev_question_auc"] or 0.0)  # type: ignore[arg-type]

    lengths = np.array([len(s) for s in sequences])
    fitted = fine_tune(model, lengths, labels, weights, lambda rows: _batch(sequences, rows, device), epochs=epochs,
                       batch=batch, learning_rate=learning_rate, head_learning_rate=head_learning_rate,
                       weight_decay=weight_decay, warmup=warmup, seed=seed, device=device,
                       after_epoch=after_epoch if report else None)
    return fitted, history


def _crossed(exported: Exported, cut: int, layers: int, name: str, fold_of: np.ndarray, folds: Iterable[int],
             settings: dict[str, Any]) -> np.ndarray:
    """Each question of set ``name``'s best probability read by the reader trained also on that set's pairs
    outside the question's fold (``fold_of``, per question)."""
    pairs = exported.sets[name]
    crossed = np.zeros(len(pairs.answerable))
    for fold in folds:
        model, _ = fit(exported, cut, layers, also={name: np.nonzero(fold_of[pairs.example] != fold)[0]},
                       report=False, **settings)
        held = fold_of == fold
        crossed[held] = best_read(pairs, probabilities(model, pairs, settings["device"]))[held]
    return crossed


def articles(exported: Exported, cut: int, layers: int, *, folds: int = 4, **settings: Any) -> dict[str, object]:
    """Dev's articles in ``folds`` folds: the reader trained on the training articles alone, and trained
    also on the dev articles outside each fold, both scored on the fold (question AUC)."""
    dev = exported.sets["dev"]
    names = sorted(set(dev.group.tolist()))
    fold_of = np.array([names.index(g) % folds for g in dev.group])
    base, _ = fit(exported, cut, layers, **settings)
    base_best = best_read(dev, probabilities(base, dev, settings["device"]))
    crossed = _crossed(exported, cut, layers, "dev", fold_of, range(folds), settings)
    rows: list[dict[str, object]] = []
    for fold in range(folds):
        held = fold_of == fold
        rows.append({"fold": fold, "questions": int(held.sum()), "unanswerable": int((~dev.answerable[held]).sum()),
                     "without_dev": auc(base_best[held], dev.answerable[held]),
                     "with_other_dev_articles": auc(crossed[held], dev.answerable[held])})
        print(json.dumps(rows[-1]), flush=True)
    return {"folds": rows, "without_dev": auc(base_best, dev.answerable),
            "with_other_dev_articles": auc(crossed, dev.answerable)}


def own_folds(exported: Exported, cut: int, layers: int, **settings: Any) -> dict[str, object]:
    """The question set's folds (its examples' ``group``): the reader trained also on the question set's
    other folds, scored on each fold, beside the reader trained without them; then trained on the whole
    question set and scored on the held-out set, which no fit sees."""
    own, holdout, dev = exported.sets["own"], exported.sets["holdout"], exported.sets["dev"]
    device = settings["device"]
    base, _ = fit(exported, cut, layers, report=False, **settings)
    crossed = _crossed(exported, cut, layers, "own", own.group, sorted(set(own.group.tolist())), settings)
    whole, _ = fit(exported, cut, layers, also={"own": np.arange(len(own.labels))}, report=False, **settings)
    return {"question_set_without": auc(best_read(own, probabilities(base, own, device)), own.answerable),
            "question_set_crossed": auc(crossed, own.answerable),
            "held_out_without": figures(base, holdout, device)["question_auc"],
            "held_out_trained_on_question_set": figures(whole, holdout, device)["question_auc"],
            "dev_without": figures(base, dev, device)["question_auc"],
            "dev_trained_on_question_set": figures(whole, dev, device)["question_auc"]}


def main(argv: Sequence[str] | None = None) -> int:
    """``export``, ``fit``, ``articles`` or ``own``; the figures as JSON lines on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="write the pairs and the weights they need")
    out.add_argument("--dataset", type=Path, default=Path("../shared/datasets/squad2fi-qa"))
    out.add_argument("--corpus", type=Path, default=Path("corpus"))
    out.add_argument("--questions", type=Path, default=Path("eval/questions.fi.jsonl"))
    out.add_argument("--holdout", type=Path, default=Path("eval/questions.holdout.fi.jsonl"))
    out.add_argument("--work", type=Path, default=Path(".kysy-reader"))
    out.add_argument("--out", type=Path, default=Path(".kysy-reader/reader-pairs.npz"))
    out.add_argument("--limit", type=int, help="questions of each set (a quick run)")
    for name in ("fit", "articles", "own"):
        command = commands.add_parser(name)
        command.add_argument("pairs", type=Path)
        command.add_argument("--cut", type=int, default=6, help="frozen layers")
        command.add_argument("--layers", type=int, default=2, help="fine-tuned layers above them")
        command.add_argument("--learning-rate", type=float, default=1e-4)
        command.add_argument("--epochs", type=int, default=2)
        command.add_argument("--seed", type=int, default=17)
        command.add_argument("--device", default=None, help="torch device (default: cuda when there is one, else cpu)")
        command.add_argument("--limit", type=int, help="questions of each set (a quick run)")
        command.add_argument("--report", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.command == "export":
        print(json.dumps(export(args.work, args.out, args.dataset, args.corpus, args.questions, args.holdout,
                                limit=args.limit)))
        return 0
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    exported = Exported(args.pairs, args.limit)
    settings = {"learning_rate": args.learning_rate, "epochs": args.epochs, "device": device, "seed": args.seed}
    if args.command == "fit":
        result: object = fit(exported, args.cut, args.layers, **settings)[1]
    elif args.command == "articles":
        result = articles(exported, args.cut, args.layers, **settings)
    else:
        result = own_folds(exported, args.cut, args.layers, **settings)
    print(json.dumps(result), flush=True)
    if args.report:
        args.report.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
