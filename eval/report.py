"""Evaluation outputs: metrics.json, per-item JSONL, report.md and PNG plots.

report.md opens with a short summary in plain Finnish (``eval/summary.py``); every technical metric
has its plain name beside it, and the plots are titled for readers who are not engineers.

A run written into a directory that already holds a ``metrics.json`` is compared with it:
report.md shows the previous value and the change next to every metric, and which questions now
pass or fail that did not before.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.runner import ANSWER_KEYS, EvalRun, QuestionResult
from eval.summary import PLAIN_NAMES, PLOT_TEXT, plain_summary, with_plain_name
from kysy.errors import ConfigError

logger = logging.getLogger(__name__)

_COLOURS = {"bm25-raw": "#9e9e9e", "bm25-lemma": "#1f77b4", "dense": "#2ca02c", "fusion": "#9467bd",
            "hybrid": "#d62728", "langchain-naive": "#ff7f0e"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the evaluation report's plots need matplotlib: pip install -e '.[eval]' (make eval installs it)"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_recall(metrics: dict[str, dict[str, float | None]], path: Path, ks: Sequence[int]) -> None:
    """Recall@k curves, one line per retriever."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, values in metrics.items():
        points = [(k, values.get(f"recall@{k}")) for k in ks]
        xs = [i for i, (_, v) in enumerate(points) if v is not None]
        ax.plot(xs, [points[i][1] for i in xs], marker="o", linewidth=2, label=name, color=_COLOURS.get(name))
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    title, xlabel, ylabel = PLOT_TEXT["recall"]
    ax.set_xlabel(f"{xlabel} – k (chunks retrieved)")
    ax.set_ylabel(f"{ylabel} – recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_by_type(by_type: dict[str, dict[str, Any]], path: Path) -> None:
    """Grouped bars: the product's answer metrics per question type."""
    plt = _pyplot()
    kinds = list(by_type)
    keys = ["keyword_recall", "citation_precision", "answered_with_citation", "refusal_accuracy"]
    fig, ax = plt.subplots(figsize=(min(13, max(7, 0.85 * len(kinds) + 2)), 5), dpi=110)
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        values = [by_type[k].get(key) for k in kinds]
        xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(kinds))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=PLAIN_NAMES.get(key, key))
    ax.set_xticks(range(len(kinds)), [f"{k}\n(n={by_type[k]['questions']})" for k in kinds], fontsize=8)
    ax.set_ylim(0, 1.05)
    title, ylabel = PLOT_TEXT["by_type"]
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_latency(times_ms: Sequence[float], path: Path) -> None:
    """Histogram of ask() latency with p50 and p95 marked."""
    from eval.metrics import percentile

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.hist(times_ms, bins=min(30, max(5, len(times_ms) // 4)), color="#1f77b4", alpha=0.8)
    for p, style in ((50, "--"), (95, ":")):
        value = percentile(times_ms, p)
        ax.axvline(value, color="#d62728", linestyle=style, label=f"p{p} = {value:.0f} ms")
    title, xlabel, ylabel = PLOT_TEXT["latency"]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.set_title(f"{title} ({len(times_ms)} kysymystä)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_previous(out: Path) -> dict[str, Any] | None:
    """The metrics.json of the previous run in ``out``, if one is there and readable."""
    path = out / "metrics.json"
    if not path.is_file():
        return None
    try:
        previous: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("previous %s is unreadable; no comparison", path)
        return None
    return previous


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _delta(now: float | None, before: float | None, digits: int = 3) -> str:
    if now is None or before is None:
        return ""
    change = now - before
    return "±0" if abs(change) < 10 ** -digits / 2 else f"{change:+.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def retriever_table(metrics: dict[str, dict[str, float | None]], previous: dict[str, Any] | None) -> list[str]:
    """Markdown table of retrieval metrics; with a previous run, each cell shows the change too."""
    keys = list(next(iter(metrics.values())).keys())
    before = (previous or {}).get("retrievers", {})
    rows = []
    for name, values in metrics.items():
        old = before.get(name, {})
        rows.append([f"`{name}`"] + [
            f"{_fmt(values[k])} ({_delta(values[k], old.get(k))})" if old.get(k) is not None else _fmt(values[k])
            for k in keys
        ])
    return _table(["retriever", *(with_plain_name(k) for k in keys)], rows)


def read_previous_failures(out: Path) -> dict[str, str | None] | None:
    """Each question's failure (None when it passed) in the previous run's per_question.jsonl in ``out``."""
    path = out / "per_question.jsonl"
    if not path.is_file():
        return None
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return {str(row["id"]): row.get("failure") or None for row in rows}
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("previous %s is unreadable; no per-question comparison", path)
        return None


def question_changes(results: Sequence[QuestionResult], before: dict[str, str | None] | None) -> list[str]:
    """Which questions now pass that failed before, which now fail, and which fail differently."""
    if before is None:
        return []
    fixed, broken, different = [], [], []
    for r in results:
        if r.question.id not in before:
            continue
        old, now = before[r.question.id], r.failure or None
        if old and not now:
            fixed.append(f"- `{r.question.id}` now passes (was: {old})")
        elif now and not old:
            broken.append(f"- `{r.question.id}` now fails: **{now}**")
        elif old and now and old != now:
            different.append(f"- `{r.question.id}` fails differently: **{now}** (was: {old})")
    if not fixed and not broken and not different:
        return ["", "Every question that was asked in both runs passes or fails as it did."]
    counts = f"{len(fixed)} fixed, {len(broken)} broken, {len(different)} failing differently"
    return ["", f"Questions that changed ({counts}):", "", *fixed, *broken, *different]


def _comparison(summary: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    if previous is None:
        return ["No previous run in this directory: nothing to compare with."]
    lines = [f"Compared with the previous run of {previous.get('timestamp', '?')} "
             "(change in brackets in the tables above; answers and latency here):", ""]
    rows = []
    for key, value in summary.get("answers", {}).items():
        old = previous.get("answers", {}).get(key)
        rows.append([key, _fmt(old), _fmt(value), _delta(value, old)])
    for key, value in summary.get("latency_ms", {}).items():
        old = previous.get("latency_ms", {}).get(key)
        rows.append([f"latency {key} (ms)", _fmt(old, 0), _fmt(value, 0), _delta(value, old, 0)])
    changed = sorted(k for k, v in summary.get("settings", {}).items()
                     if k != "data_dir" and previous.get("settings", {}).get(k, v) != v)
    if rows:
        lines += _table(["metric", "previous", "now", "change"], rows)
    lines += ["", "Settings changed since then: " + (", ".join(f"`{k}`" for k in changed) or "none") + "."]
    before, now = previous.get("questions"), summary.get("questions")
    if before is not None and before != now:
        lines += ["", f"The question set changed since then ({before} -> {now} questions): "
                  "the figures are not strictly comparable."]
    return lines


def _failures(results: Sequence[QuestionResult]) -> list[str]:
    failing = [r for r in results if r.failure]
    if not failing:
        return ["Every question passed."]
    lines = [f"{len(failing)} of {len(results)} questions fail:", ""]
    for r in failing:
        lines.append(f"- `{r.question.id}` ({r.question.type}) {r.question.question} — **{r.failure}**")
    return lines


def _hybrid_cross_validated(cross: dict[str, Any] | None) -> list[str]:
    """The product's ranking with each question's sources ordered by the models fitted without its fold."""
    if not cross:
        return []
    figures = ", ".join(f"{k} {_fmt(v)}" for k, v in cross.items())
    return [f"`hybrid` cross-validated (the first sources ordered by the item model fitted without the question's "
            f"fold): {figures}.", ""]


def _answers_table(answers: dict[str, Any], cross: dict[str, Any] | None, latency: dict[str, float]) -> list[str]:
    """The answer metrics, in-sample and (when measured) cross-validated side by side."""
    keys = [*ANSWER_KEYS, *(k for k in ("answerable_auc", "reader_question_auc") if k in answers)]
    if cross is None:
        rows = [[with_plain_name(k), _fmt(answers[k])] for k in keys]
        return _table(["metric", "value"], rows + [[f"latency {k} (ms)", _fmt(v, 0)] for k, v in latency.items()])
    rows = [[with_plain_name(k), _fmt(answers[k]), _fmt(cross.get(k))] for k in keys]
    rows += [[f"latency {k} (ms)", _fmt(v, 0), ""] for k, v in latency.items()]
    return _table(["metric", "in-sample", "cross-validated"], rows)


def _unfitted(figures: dict[str, Any] | None) -> list[str]:
    """The answer metrics without the questions a fitted set asks word for word (a set kept out of the fit)."""
    if not figures:
        return []
    shown = ", ".join(f"{with_plain_name(k)} {_fmt(figures.get(k))}" for k in ANSWER_KEYS)
    ids = ", ".join(f"`{qid}`" for qid in figures.get("left_out_ids", ()))
    return [f"{figures['left_out']} questions of this set are asked word for word by a set `make train` fits on "
            f"(`TRAINING_SETS`): {ids}; without them: {shown}.", ""]


def citation_place(place: Sequence[Any] | None) -> str:
    """A first citation as a reader writes it: ``file.txt``, ``file.pdf p. 3``, or ``(nothing)`` for a refusal."""
    if not place:
        return "(nothing)"
    file, page = place
    return f"{file} p. {page}" if page is not None else str(file)


def _wording(summary: dict[str, Any]) -> list[str]:
    """The wording-robustness section: the share of rewordings that keep the first citation."""
    by_kind = ", ".join(f"{kind} {share:.3f}" for kind, share in summary["by_kind"].items())
    lines = [
        "## Rewordings: the same question in other words", "",
        f"{summary['variants']} rewordings of the answerable standalone Finnish questions (a noun's number, a synonym "
        f"from synonyms.txt, a typo, Kuka/Ketkä): {summary['share']:.3f} kept the first citation ({by_kind}).", "",
    ]
    for failure in summary["failures"]:
        lines.append(f"- `{failure['id']}` ({failure['kind']}) \"{failure['text']}\": "
                     f"{citation_place(failure['expected'])} -> {citation_place(failure['got'])}")
    return [*lines, ""]


def _invariance(summary: dict[str, Any]) -> list[str]:
    """The conversation-invariance section: the share that holds and the variants that do not."""
    lines = [
        "## Conversations: a standalone question after an unrelated turn", "",
        f"Each of {summary['questions']} answerable standalone questions was asked after 3 unrelated earlier "
        f"questions of the set (with the product's answers to them): {summary['share']:.3f} of the "
        f"{summary['variants']} conversations kept the first citation (file and page) it has with no history.", "",
    ]
    for failure in summary["failures"]:
        expected, got = citation_place(failure["expected"]), citation_place(failure["got"])
        lines.append(f"- `{failure['id']}` after `{failure['after']}`: {expected} -> {got}; searched "
                     f"\"{failure['standalone_query']}\"")
    return [*lines, ""]


def question_report(
    run: EvalRun,
    metrics: dict[str, Any],
    previous: dict[str, Any] | None,
    previous_failures: dict[str, str | None] | None = None,
) -> str:
    """The report.md of a question-set run."""
    answers = metrics["answers"]
    by_type = metrics["by_type"]
    lines = [
        "# Evaluation report", "",
        *plain_summary(run.results, metrics),
        f"{metrics['questions']} questions ({metrics['answerable']} answerable), run {metrics['timestamp']}, "
        f"embedder `{run.settings.get('embedder')}`, analyzer `{_analyzer(run)}`, "
        f"top_k {run.settings.get('top_k')}.", "",
        "## Retrieval (answerable questions, top 10, same standalone query for every retriever)", "",
        *retriever_table(metrics["retrievers"], previous), "",
        *_hybrid_cross_validated(metrics.get("hybrid_cross_validated")),
        "![recall at k](recall_at_k.png)", "",
        "## Answers (the product: hybrid retrieval + answering)", "",
        *_answers_table(answers, metrics.get("answers_cross_validated"), metrics["latency_ms"]), "",
        "keyword_recall and citation_precision are means over answerable questions (citation precision over "
        "those answered with citations); refusal_accuracy is over unanswerable ones; – where no question "
        "qualifies." + (" Cross-validated: each question answered by the models `make train` fitted without its "
                        "fold (`kysy eval --cv-models`)." if metrics.get("answers_cross_validated") else ""), "",
        *_unfitted(metrics.get("answers_without_fitted_wordings")),
        "![latency](latency.png)", "",
        "## By question type", "",
        *_table(["type", "n", *(with_plain_name(k) for k in ANSWER_KEYS), "hybrid recall@5"],
                [[kind, str(e["questions"]), *(_fmt(e[k]) for k in ANSWER_KEYS),
                  _fmt(e.get("recall@5", {}).get("hybrid"))] for kind, e in by_type.items()]), "",
        "![answer metrics by question type](by_type.png)", "",
        *(_invariance(metrics["conversation_invariance"]) if "conversation_invariance" in metrics else []),
        *(_wording(metrics["wording_robustness"]) if "wording_robustness" in metrics else []),
        "## Failing questions", "", *_failures(run.results), "",
        "## Comparison with the previous run", "", *_comparison(metrics, previous),
        *(question_changes(run.results, previous_failures) if previous is not None else []), "",
    ]
    return "\n".join(lines)


def _analyzer(run: EvalRun) -> object:
    """The analyzer that ran (the setting may say only "auto")."""
    return (run.provenance or {}).get("analyzer", run.settings.get("analyzer"))


def check_out_dir(out: Path) -> None:
    """Make sure ``out`` can be created and written, before a long run writes into it.

    Raises:
        ConfigError: it cannot (the message names the directory and why).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc}); choose a writable directory") from None


def _per_question(result: QuestionResult) -> dict[str, Any]:
    answer = result.answer
    return {
        "id": result.question.id,
        "type": result.question.type,
        "question": result.question.question,
        "standalone_query": result.standalone,
        "answerable": result.question.answerable,
        "retrieved": {name: [{"file": i.file, "page": i.page, "rank": i.rank, "relevant": i.relevant}
                             for i in items] for name, items in result.ranked.items()},
        "answer": answer.text,
        "not_found": answer.not_found,
        "status": answer.meta.get("status"),  # "answered" | "partial" | "not_found" (None where not given)
        "answerable_probability": answer.meta.get("answerable"),  # the answerability model's, where it ran
        "citations": [{"n": c.n, "file": c.file, "page": c.page, "chunk_id": c.chunk_id, "relevant": rel}
                      for c, rel in zip(answer.citations, result.cited_relevant, strict=True)],
        "keyword_hits": list(result.keyword_hits),
        "keyword_misses": list(result.keyword_misses),
        "ms": round(result.ms, 1),
        "failure": result.failure,
    }


def write_question_outputs(run: EvalRun, out: Path) -> dict[str, Any]:
    """Write metrics.json, per_question.jsonl, report.md and the three plots; returns the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    previous, previous_failures = read_previous(out), read_previous_failures(out)
    metrics = {
        **run.summary(),
        "answerable": sum(1 for r in run.results if r.question.answerable),
        "by_type": run.by_type(),
        "timestamp": _now(),
    }
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as handle:
        for result in run.results:
            handle.write(json.dumps(_per_question(result), ensure_ascii=False) + "\n")
    plot_recall(metrics["retrievers"], out / "recall_at_k.png", (1, 3, 5, 10))
    plot_by_type(metrics["by_type"], out / "by_type.png")
    plot_latency([r.ms for r in run.results], out / "latency.png")
    (out / "report.md").write_text(question_report(run, metrics, previous, previous_failures), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    return metrics


def write_beir_outputs(result: Any, summary: dict[str, Any], out: Path, *, embedded: int) -> dict[str, Any]:
    """Write metrics.json, per_query.jsonl, report.md and recall_at_k.png of a BEIR run."""
    out.mkdir(parents=True, exist_ok=True)
    previous = read_previous(out)
    metrics = {**summary, "timestamp": _now(), "note": result.note, "embedded_this_run": embedded}
    with (out / "per_query.jsonl").open("w", encoding="utf-8") as handle:
        for name, by_query in result.ranked.items():
            for qid, ids in by_query.items():
                handle.write(json.dumps({"query_id": qid, "retriever": name, "ranked": ids[:100]}) + "\n")
    plot_recall(summary["retrievers"], out / "recall_at_k.png", (1, 3, 5, 10, 20, 100))
    lines = [
        "# Retrieval benchmark report", "",
        f"{summary['queries']} queries over {summary['passages']} passages, run {metrics['timestamp']}, "
        f"embedder `{summary['settings'].get('embedder')}`, analyzer `{summary['settings'].get('analyzer')}`; "
        f"{embedded} passages embedded in this run (the rest came from the cache).", "",
        *([result.note, ""] if result.note else []),
        *retriever_table(summary["retrievers"], previous), "",
        "![recall at k](recall_at_k.png)", "",
        "## Comparison with the previous run", "", *_comparison(metrics, previous), "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    return metrics
