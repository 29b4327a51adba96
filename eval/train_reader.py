"""``make train-reader``: the reader's fine-tuned layers and head, and its numbers, fitted from data.

1. Indexes under ``--work`` (incrementally): squad2fi-qa's training articles (train on), its dev
   articles (choose on, and the figures for unseen articles), ``corpus/`` with the question set
   and the holdout set. Examples (``eval/reader_examples.py``): each question's best items by the
   item scorer, labelled.
2. Training pairs: every right item of an answerable squad training question and its best-scored
   ``--negatives`` wrong ones; every item read of an unanswerable one; and the near misses made from
   the answerable ones by swapping a name or number (``eval/reader_swaps.py``, weighted
   ``--swap-weight``) against the items that answered the original. The frozen layers' states
   are computed once per pair and cached under ``--work`` (``eval/reader_fit.py``).
3. The top layers and head fine-tuned; the epoch kept is the one whose reader best tells dev's
   answerable questions from unanswerable ones (AUC of the best probability among the items read).
4. Chosen on dev and the question set: the blend weight (the most right leads on both), and the
   refusal gate: the reader's threshold with the answerability model's threshold under the reader,
   the pair refusing the most unanswerable questions while refusing at most ``--max-refused`` of
   dev's answerable questions and ``--max-refused-own`` of the question set's.

The question set is never trained on; the holdout set is never trained or chosen on: both are
out-of-sample figures. Writes ``reader.npz`` and ``reader.json`` (shape, numbers, figures) under
``--out`` and ``docs/eval/reader.md``.

    python -m eval.train_reader --dataset ../shared/datasets/squad2fi-qa --work .kysy-reader
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np

from assistant.answerability import ANSWERABILITY_MODEL
from assistant.reader import READER_CONFIG, READER_MODEL, Limits, ReaderShape, encode_pair, sigmoid
from assistant.scoring import ITEM_MODEL, MODELS_DIR
from assistant.service import Assistant
from eval.questionset import load_questions
from eval.reader_examples import ReaderExample, cached, own_examples, squad_examples
from eval.reader_figures import (
    auc,
    best_read,
    curve,
    lead_right,
    markdown,
    reachable,
    refused_share,
    threshold_at,
)
from eval.reader_fit import (
    FitSettings,
    FrozenStates,
    export,
    fit,
    from_exported,
    initial_tensors,
    logits,
    rounded,
    write_npz,
)
from eval.reader_swaps import swap_examples
from eval.squad import load_split, write_articles
from ingest.embed import make_embedder
from ingest.embed_onnx import OnnxE5Embedder
from ingest.pipeline import ingest_paths
from kysy.models import content_hash
from kysy.settings import Settings

logger = logging.getLogger(__name__)

SHAPE = ReaderShape(cut=6, layers=2, limits=Limits())
COLLECT = 8  # items kept per question (the most ``KYSY_READER_ITEMS`` is chosen among)
FOLDS = 5
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
READS = (1, 2, 3, 4, 6, 8)
# Weight of a near miss made by a swapped name or number (eval/reader_swaps.py), chosen on dev's question AUC
# among 0, 1 and 3 (0.593, 0.608, 0.616).
SWAP_WEIGHT = 3.0
# Weight of an unanswerable training question's pairs (an answerable one's weigh 1), chosen with the fine-tuned
# layers' learning rate (``FitSettings``) on dev's question AUC: weight 1 at 5e-5 gave 0.616, weight 4 at 1e-4 0.620.
UNANSWERABLE_WEIGHT = 4.0


@dataclass(frozen=True)
class Pairs:
    """Rows of pairs: the example and item each came from, the model input and the label."""

    example: np.ndarray
    item: np.ndarray
    sequences: list[tuple[int, ...]]
    labels: np.ndarray


def build(dataset: Path, corpus: Path, questions: Path, holdout: Path, work: Path, *,
          limit: int | None = None) -> dict[str, list[ReaderExample]]:
    """Ingest the indexes under ``work`` and gather (or read back) every set's examples."""
    sets: dict[str, list[ReaderExample]] = {}
    # Examples depend on the answer engine's models and on the sample: a new one of either asks again.
    models = content_hash(ITEM_MODEL.read_bytes() + ANSWERABILITY_MODEL.read_bytes())[:8]
    suffix = f"{models}-{limit}" if limit else models
    for split in ("train", "dev"):
        items = load_split(dataset, split)
        items = items[:: max(1, len(items) // limit)][:limit] if limit else items
        settings = Settings(data_dir=work / f"squad-{split}", embed_cache=work / "embeddings.sqlite", llm_base_url="")
        articles = settings.data_dir / f"squad2fi-{split}-articles"  # as `kysy eval squad` lays them out
        write_articles(load_split(dataset, split), articles)
        ingest_paths(settings, [articles])
        sets[split] = cached(work / f"examples-{split}-{suffix}.jsonl",
                             lambda s=settings, q=items: squad_examples(Assistant(s), q, COLLECT))  # type: ignore[misc]
    settings = Settings(data_dir=work / "corpus", corpus_dir=corpus, embed_cache=work / "embeddings.sqlite",
                        llm_base_url="")
    ingest_paths(settings, [corpus])
    for name, path in (("own", questions), ("holdout", holdout)):
        asked = load_questions(path)[:limit]
        sets[name] = cached(work / f"examples-{name}-{suffix}.jsonl",
                            lambda q=asked: own_examples(Assistant(settings), q, COLLECT, FOLDS))  # type: ignore[misc]
    return sets


def pairs(embedder: OnnxE5Embedder, examples: Sequence[ReaderExample], limits: Limits, *,
          negatives: int | None = None) -> Pairs:
    """The pairs of ``examples``: the items the product reads, or for training (``negatives`` given)
    the right items and the best ``negatives`` wrong ones of an answerable question."""
    rows: list[tuple[int, int]] = []
    for e, example in enumerate(examples):
        if negatives is None:
            rows += [(e, i) for i in range(example.read)]
            continue
        wrong = [i for i, item in enumerate(example.items) if not item.right]
        kept = wrong[:negatives] if example.answerable else wrong
        rows += [(e, i) for i, item in enumerate(example.items) if item.right or i in kept]
    tokenizer = embedder.tokenizer
    sequences = [encode_pair(tokenizer, examples[e].question, examples[e].items[i].context,
                             examples[e].items[i].text, limits) for e, i in rows]
    labels = np.array([examples[e].items[i].right for e, i in rows], dtype=bool)
    return Pairs(np.array([e for e, _ in rows], dtype=int), np.array([i for _, i in rows], dtype=int), sequences, labels)


def per_example(examples: Sequence[ReaderExample], rows: Pairs, values: np.ndarray) -> list[np.ndarray]:
    """Row values regrouped per example, in each example's item order."""
    out = [np.zeros(e.read) for e in examples]
    for e, i, value in zip(rows.example, rows.item, values, strict=True):
        out[e][i] = value
    return out


def question_auc(examples: Sequence[ReaderExample], probabilities: Sequence[np.ndarray], items: int) -> float | None:
    """AUC of the best probability read between answerable and unanswerable questions."""
    answerable = np.array([e.answerable for e in examples])
    return auc(best_read(examples, probabilities, items), answerable)


def choose_gate(sets: dict[str, list[ReaderExample]], probabilities: dict[str, list[np.ndarray]], items: int,
                max_refused: float, max_refused_own: float) -> dict[str, float]:
    """The reader threshold and the answerability threshold under it (see the module docstring)."""
    best: dict[str, float] = {}
    grid = sorted({0.0, *np.round(np.quantile([e.answerable_probability for e in sets["dev"]],
                                              np.linspace(0, 0.5, 11)), 4)})
    for answerable_threshold in grid:
        limits = {"dev": max_refused, "own": max_refused_own}
        views = {}
        for name in ("dev", "own"):
            examples = sets[name]
            also = np.array([e.answerable_probability < answerable_threshold for e in examples])
            views[name] = (best_read(examples, probabilities[name], items), np.array([e.answerable for e in examples]), also)
        threshold = min(threshold_at(*views[name][:2], limits[name], views[name][2]) for name in views)
        if any(refused_share(b, a, threshold, also)[0] > limits[name] for name, (b, a, also) in views.items()):
            continue
        value = sum(refused_share(b, a, threshold, also)[1] for b, a, also in views.values())
        if not best or value > best["value"]:
            best = {"threshold": threshold, "answerable_threshold": float(answerable_threshold), "value": value}
    return best


def gate_figures(examples: Sequence[ReaderExample], probabilities: Sequence[np.ndarray], items: int,
                 gate: dict[str, float], answerability_threshold: float) -> dict[str, object]:
    """Refusals without the reader, with the reader's gate alone, and with the chosen gate."""
    answerable = np.array([e.answerable for e in examples])
    model = np.array([e.answerable_probability for e in examples])
    best = best_read(examples, probabilities, items)
    never = np.zeros(len(examples), dtype=bool)

    def shares(refused: tuple[float, float]) -> dict[str, float]:
        return {"answerable_refused": refused[0], "unanswerable_refused": refused[1]}

    return {
        "without_reader": shares(refused_share(np.ones(len(examples)), answerable, 0.0, model < answerability_threshold)),
        "with_reader": shares(refused_share(best, answerable, gate["threshold"], model < gate["answerable_threshold"])),
        "question_auc": auc(best, answerable),
        "curve_reader_alone": curve(best, answerable, never),
    }


def reader_cost(out: Path, sets: dict[str, list[ReaderExample]], embedder: OnnxE5Embedder, items: int,
                sample: int = 60) -> dict[str, float]:
    """Milliseconds (median, p95) and tokens per question of the shipped reader reading ``items`` items."""
    from assistant.reader import Reader

    reader = Reader(embedder, out / READER_MODEL.name, out / READER_CONFIG.name)
    examples = sets["dev"][:: max(1, len(sets["dev"]) // sample)][:sample]
    times, tokens = [], []
    for example in examples:
        read = [(item.context, item.text) for item in example.items[: min(items, example.read)]]
        started = time.perf_counter()
        reader.probabilities(example.question, read)
        times.append((time.perf_counter() - started) * 1000)
        tokens.append(sum(len(reader.encode(example.question, c, t)) for c, t in read))
    return {"ms_median": round(float(np.median(times)), 1), "ms_p95": round(float(np.percentile(times, 95)), 1),
            "tokens_mean": round(float(np.mean(tokens)), 1), "questions": len(examples)}


def train_reader(dataset: Path, corpus: Path, questions: Path, holdout: Path, work: Path, out: Path, *,
                 shape: ReaderShape = SHAPE, settings: FitSettings | None = None, negatives: int = 5,
                 items: int | None = None, limit: int | None = None, max_refused: float = 0.05,
                 max_refused_own: float = 0.10, unanswerable_weight: float = UNANSWERABLE_WEIGHT, swap_weight: float = SWAP_WEIGHT,
                 report_path: Path | None = None) -> dict[str, object]:
    """Build the examples, fit the reader, choose its numbers, write it under ``out``."""
    settings = settings or FitSettings()
    items = items or Settings().reader_items
    sets = build(dataset, corpus, questions, holdout, work, limit=limit)
    embedder = cast(OnnxE5Embedder, make_embedder("e5-onnx", threads=settings.threads))
    e5 = embedder.e5
    tag = f"c{shape.cut}-{content_hash(json.dumps(asdict(shape.limits)))[:8]}"
    if swap_weight > 0:
        sets["swap"] = swap_examples(sets["train"], load_split(dataset, "train"))
    rows = {"train": pairs(embedder, sets["train"], shape.limits, negatives=negatives)}
    rows.update((name, pairs(embedder, sets[name], shape.limits)) for name in ("dev", "own", "holdout"))
    if swap_weight > 0:
        rows["swap"] = pairs(embedder, sets["swap"], shape.limits, negatives=negatives)
    states = {name: FrozenStates.load_or_compute(embedder, rows[name].sequences, shape.cut,
                                                 work / f"states-{name}-{tag}.npz", _progress)
              for name in rows}
    train = rows["train"]
    # The adversarial unanswerable questions are few beside the answerable ones: their pairs weigh more.
    weights = np.where([not sets["train"][e].answerable for e in train.example], unanswerable_weight, 1.0)
    if swap_weight > 0:
        swaps = rows["swap"]
        states["train"] = FrozenStates.joined(states["train"], states["swap"])
        train = Pairs(np.concatenate([train.example, swaps.example + len(sets["train"])]),
                      np.concatenate([train.item, swaps.item]), train.sequences + swaps.sequences,
                      np.concatenate([train.labels, swaps.labels]))
        weights = np.concatenate([weights, np.full(len(swaps.labels), swap_weight)])

    def dev_figure(epoch: int, module: object) -> float:
        probabilities = per_example(sets["dev"], rows["dev"], sigmoid(logits(module, states["dev"])))
        figure = question_auc(sets["dev"], probabilities, items) or 0.0
        logger.warning("epoch %d: dev question AUC %.4f", epoch + 1, figure)
        return figure

    # The fitted layers are kept under ``work`` by what made them, so choosing the numbers again refits nothing.
    # (A fit without swaps keeps the key it had before they were made.)
    weighed = [asdict(settings), shape.to_json(), unanswerable_weight, *([swap_weight] if "swap" in rows else [])]
    made = hashlib.sha256(json.dumps(weighed).encode()
                          + train.labels.tobytes() + "|".join(map(str, train.sequences)).encode()).hexdigest()[:16]
    fitted = work / f"fitted-{made}.npz"
    if fitted.is_file():
        with np.load(fitted) as archive:
            shipped = from_exported({name: archive[name] for name in archive.files}, shape, e5.heads, float(e5.eps))
    else:
        module = fit(states["train"], train.labels, weights, initial_tensors(e5, shape), shape, e5.heads,
                     float(e5.eps), settings, dev_figure, _progress)
        shipped = rounded(module, shape, e5.heads, float(e5.eps))
        write_npz(fitted, export(module, shape))
    probabilities = {name: per_example(sets[name], rows[name], sigmoid(logits(shipped, states[name])))
                     for name in ("dev", "own", "holdout")}
    # The blend weight that leads with a right item most often, on dev and on the question set alike.
    weight = max(WEIGHTS, key=lambda w: (sum(lead_right(sets[name], probabilities[name], items, w)
                                             for name in ("dev", "own")), -w))
    gate = choose_gate(sets, probabilities, items, max_refused, max_refused_own)
    answerability = json.loads(ANSWERABILITY_MODEL.read_text(encoding="utf-8"))
    report: dict[str, object] = {
        "examples": {name: len(examples) for name, examples in sets.items()},
        "training_pairs": {"pairs": len(train.labels), "right": int(train.labels.sum())},
        "fit": asdict(settings),
        "negatives": negatives,
        "unanswerable_weight": unanswerable_weight,
        "swap_weight": swap_weight,
        "items": items,
        "figures": _figures(sets, rows, probabilities, items, weight, gate, float(answerability["threshold"])),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / READER_MODEL.name, export(shipped, shape))
    config = {"weights": e5.digest[:16], "shape": shape.to_json(), "weight": weight,
              "threshold": round(gate["threshold"], 6), "answerable_threshold": round(gate["answerable_threshold"], 6),
              "answerability_model": content_hash(ANSWERABILITY_MODEL.read_bytes())[:16], "training": report}
    (out / READER_CONFIG.name).write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    report["cost"] = reader_cost(out, sets, embedder, items)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(markdown(report), encoding="utf-8")
    return report


def _figures(sets: dict[str, list[ReaderExample]], rows: dict[str, Pairs], probabilities: dict[str, list[np.ndarray]],
             items: int, weight: float, gate: dict[str, float], answerability_threshold: float) -> dict[str, object]:
    figures: dict[str, object] = {}
    for name in ("dev", "own", "holdout"):
        examples, p = sets[name], probabilities[name]
        pair_values = np.concatenate(p) if p else np.zeros(0)
        figures[name] = {
            "item_auc": auc(pair_values, np.concatenate([[i.right for i in e.items[: e.read]] for e in examples])),
            "question_auc_by_items": {n: question_auc(examples, p, n) for n in READS},
            "right_item_read_by_items": {n: reachable(examples, n) for n in READS},
            "lead_right": {"item_scorer": lead_right(examples, p, items, 0.0),
                           "with_reader": lead_right(examples, p, items, weight)},
            "refusal": gate_figures(examples, p, items, gate, answerability_threshold),
        }
    return figures


def _progress(stage: str, advance: int, total: int) -> None:
    _progress.done = getattr(_progress, "done", {})  # type: ignore[attr-defined]
    done = _progress.done[stage] = _progress.done.get(stage, 0) + advance  # type: ignore[attr-defined]
    if done == total or done % max(1, total // 20) < advance:
        logger.info("%s: %d / %d", stage, done, total)


def main(argv: Sequence[str] | None = None) -> int:
    """Train and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/squad2fi-qa"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.fi.jsonl"))
    parser.add_argument("--holdout", type=Path, default=Path("eval/questions.holdout.fi.jsonl"))
    parser.add_argument("--work", type=Path, default=Path(".kysy-reader"), help="indexes, examples and cached states")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where reader.npz and reader.json are written")
    parser.add_argument("--cut", type=int, default=SHAPE.cut, help="frozen layers")
    parser.add_argument("--layers", type=int, default=SHAPE.layers, help="fine-tuned layers above them")
    parser.add_argument("--epochs", type=int, default=FitSettings.epochs)
    parser.add_argument("--threads", type=int, default=FitSettings.threads)
    parser.add_argument("--negatives", type=int, default=5, help="wrong items per answerable training question")
    parser.add_argument("--unanswerable-weight", type=float, default=UNANSWERABLE_WEIGHT,
                        help="weight of an unanswerable training question's pairs (an answerable one's weigh 1)")
    parser.add_argument("--swap-weight", type=float, default=SWAP_WEIGHT,
                        help="weight of the near misses made by swapping a name or number of an answerable "
                             "training question (eval/reader_swaps.py); 0 makes none")
    parser.add_argument("--learning-rate", type=float, default=FitSettings.learning_rate, help="of the fine-tuned layers")
    parser.add_argument("--limit", type=int, help="questions of each set (a quick run)")
    parser.add_argument("--max-refused", type=float, default=0.05)
    parser.add_argument("--max-refused-own", type=float, default=0.10)
    parser.add_argument("--report", type=Path, default=Path("docs/eval/reader.md"), help="the figures as Markdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    shape = ReaderShape(args.cut, args.layers, SHAPE.limits)
    settings = FitSettings(epochs=args.epochs, threads=args.threads, learning_rate=args.learning_rate)
    report = train_reader(args.dataset, args.corpus, args.questions, args.holdout, args.work, args.out, shape=shape,
                          settings=settings, negatives=args.negatives, limit=args.limit,
                          max_refused=args.max_refused, max_refused_own=args.max_refused_own,
                          unanswerable_weight=args.unanswerable_weight, swap_weight=args.swap_weight,
                          report_path=args.report)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
