"""The reader's figures: AUC, the refusal trade-off, the lead after the blend, and choosing numbers.

Everything here works on examples (``eval/reader_examples.py``) and one probability per item read:
``probabilities[i]`` holds example ``i``'s items in its own order (best item score first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.reader import blend
from eval.reader_core import auc
from eval.reader_examples import ReaderExample

__all__ = ["auc", "best_read", "curve", "lead_right", "markdown", "reachable", "refused_share", "threshold_at"]

# Shares of answerable questions refused at which the trade-off curve is read.
CURVE_LEVELS = (0.01, 0.02, 0.05, 0.10, 0.20, 0.30)


def best_read(examples: Sequence[ReaderExample], probabilities: Sequence[np.ndarray], items: int) -> np.ndarray:
    """Each question's highest probability among the first ``items`` items the product reads (0 if none)."""
    return np.array([float(p[: min(items, e.read)].max()) if min(items, e.read) else 0.0
                     for e, p in zip(examples, probabilities, strict=True)])


def refused_share(best: np.ndarray, answerable: np.ndarray, threshold: float,
                  also: np.ndarray | None = None) -> tuple[float, float]:
    """(answerable refused, unanswerable refused) when ``best < threshold`` (or ``also``) refuses."""
    refused = best < threshold
    if also is not None:
        refused |= also
    return _mean(refused[answerable]), _mean(refused[~answerable])


def threshold_at(best: np.ndarray, answerable: np.ndarray, max_refused: float,
                 also: np.ndarray | None = None) -> float:
    """The highest threshold refusing at most ``max_refused`` of the answerable questions (0 when none does)."""
    chosen = 0.0
    for threshold in np.unique(np.concatenate([best, [0.0]])):
        if refused_share(best, answerable, float(threshold), also)[0] <= max_refused:
            chosen = float(threshold)
    return chosen


def curve(best: np.ndarray, answerable: np.ndarray, also: np.ndarray | None = None) -> list[dict[str, float]]:
    """The refusal trade-off: at each ``CURVE_LEVELS`` share of answerable questions refused, the
    threshold and the share of unanswerable ones refused."""
    points = []
    for level in CURVE_LEVELS:
        threshold = threshold_at(best, answerable, level, also)
        refused, unanswerable = refused_share(best, answerable, threshold, also)
        points.append({"max_answerable_refused": level, "threshold": round(threshold, 4),
                       "answerable_refused": refused, "unanswerable_refused": unanswerable})
    return points


def lead_right(examples: Sequence[ReaderExample], probabilities: Sequence[np.ndarray], items: int,
               weight: float) -> float:
    """The share of answerable questions with a right item among those read whose lead (the best item
    after the blend) is right."""
    hits = []
    for example, p in zip(examples, probabilities, strict=True):
        read = min(items, example.read)
        right = [item.right for item in example.items[:read]]
        if not example.answerable or not any(right):
            continue
        scores = np.array([item.score for item in example.items[:read]])
        blended = blend(scores, list(range(read)), p[:read], weight)
        hits.append(right[int(np.argmax(blended))])
    return _mean(np.array(hits, dtype=bool))


def reachable(examples: Sequence[ReaderExample], items: int) -> float:
    """The share of answerable questions with a right item among the first ``items`` read."""
    hits = [any(item.right for item in e.items[: min(items, e.read)]) for e in examples if e.answerable]
    return _mean(np.array(hits, dtype=bool))


def _mean(values: np.ndarray) -> float:
    return round(float(np.mean(values)), 4) if len(values) else 0.0


def markdown(report: dict[str, object]) -> str:
    """``docs/eval/reader.md``: the reader's figures from a ``make train-reader`` report."""
    figures = report["figures"]
    assert isinstance(figures, dict)
    names = {"dev": "squad2fi-qa dev articles (chosen on)", "own": "question set (never trained on; chosen on)",
             "holdout": "held-out questions (never trained or chosen on)"}
    lines = ["# The reader", "",
             "Written by `make train-reader` (`eval/train_reader.py`). The reader reads the question against "
             f"the best {report['items']} items of the answer engine; the figures below are per question set.", "",
             f"Examples: {report['examples']}; training pairs: {report['training_pairs']}; fit: {report['fit']}.", "",
             "| set | item AUC | question AUC | right item among those read | lead right (scorer / with reader) "
             "| refused without reader (answerable / unanswerable) | refused with reader |",
             "|---|---|---|---|---|---|---|"]
    for name, title in names.items():
        f = figures.get(name)
        if not isinstance(f, dict):
            continue
        read = f["right_item_read_by_items"]  # keyed by the number of items (strings once read back from JSON)
        reachable_share = read.get(report["items"], read.get(str(report["items"])))
        refusal = f["refusal"]
        lines.append(
            f"| {title} | {f['item_auc']} | {refusal['question_auc']} | {reachable_share} "
            f"| {f['lead_right']['item_scorer']} / {f['lead_right']['with_reader']} "
            f"| {refusal['without_reader']['answerable_refused']} / {refusal['without_reader']['unanswerable_refused']} "
            f"| {refusal['with_reader']['answerable_refused']} / {refusal['with_reader']['unanswerable_refused']} |")
    lines += ["", "## Refusal trade-off of the reader alone (threshold on the best probability read)", ""]
    for name, title in names.items():
        f = figures.get(name)
        if not isinstance(f, dict):
            continue
        lines += [f"{title}:", "", "| answerable refused at most | threshold | answerable refused | unanswerable refused |",
                  "|---|---|---|---|"]
        lines += [f"| {p['max_answerable_refused']} | {p['threshold']} | {p['answerable_refused']} "
                  f"| {p['unanswerable_refused']} |" for p in f["refusal"]["curve_reader_alone"]]
        lines += ["", "Question AUC by items read: "
                  + ", ".join(f"{k}: {v}" for k, v in f["question_auc_by_items"].items()), ""]
    if "cost" in report:
        lines += ["## Cost", "", f"Per question (the shipped reader, one thread): {report['cost']}.", ""]
    return "\n".join(lines)
