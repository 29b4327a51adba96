"""``kysy eval``: progress bars, tables and JSON for the question-set and BEIR evaluations."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cli.progress import progress_bars
from kysy.errors import ConfigError
from kysy.settings import Settings

_STAGES = {
    "analyse": "Analysing passages",
    "embed": "Embedding passages",
    "search": "Searching",
    "langchain": "Indexing for langchain-naive",
    "ask": "Asking",
    "invariance": "Asking after unrelated turns",
    "cross-validate": "Asking with each fold's models",
    "variants": "Asking reworded questions",
}


# The flags that only one mode reads: given in another mode they would be silently ignored.
_MODE_FLAGS = {"dataset": "squad", "corpus": "retrieval", "queries": "retrieval", "qrels": "retrieval",
               "cv_models": "questions"}


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``kysy eval`` in the mode the arguments name; returns the exit status.

    Raises:
        ConfigError: a flag of another mode was given, or ``--out`` cannot be written.
    """
    foreign = [name for name, mode in _MODE_FLAGS.items() if mode != args.mode and getattr(args, name, None) is not None]
    if foreign:
        flags = ", ".join(f"--{name.replace('_', '-')} is for `kysy eval {_MODE_FLAGS[name]}`" for name in foreign)
        raise ConfigError(f"{flags}; this is `kysy eval {args.mode}`, which does not read it")
    if args.out:
        from eval.report import check_out_dir

        check_out_dir(Path(args.out))
    if args.mode == "retrieval":
        return _run_beir(settings, args)
    if args.mode == "squad":
        return _run_squad(settings, args)
    return _run_questions(settings, args)


def parse_retrievers(spec: str | None, known: Sequence[str]) -> list[str]:
    """Split a comma-separated retriever list, keeping the order given.

    Raises:
        ConfigError: a name is not one of ``known`` or the list is empty.
    """
    if spec is None:
        return list(known)
    names = list(dict.fromkeys(part.strip() for part in spec.split(",") if part.strip()))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(
            f"unknown retriever(s) {', '.join(unknown) or repr(spec)}: choose from {', '.join(known)}"
        )
    return names


def _progress(quiet: bool) -> AbstractContextManager[Callable[[str, int, int], None]]:
    """Rich progress bars on stderr, one per stage, shown only on a terminal."""
    return progress_bars(_STAGES, quiet=quiet)


def _run_questions(settings: Settings, args: argparse.Namespace) -> int:
    from eval.baselines import RETRIEVERS
    from eval.report import write_question_outputs
    from eval.runner import run_questions

    retrievers = parse_retrievers(args.retrievers, RETRIEVERS)
    with _progress(args.json) as progress:
        run = run_questions(settings, args.questions, retrievers, limit=args.limit, progress=progress,
                            cv_models=args.cv_models)
    if args.out:
        write_question_outputs(run, Path(args.out))
    if args.json:
        print(json.dumps(run.summary(), ensure_ascii=False))
    else:
        _print_questions(Console(), run.summary(), args.out)
    return 0


def _run_squad(settings: Settings, args: argparse.Namespace) -> int:
    from eval.squad import run_squad, write_squad_outputs

    if args.dataset is None:
        raise ConfigError("squad mode needs --dataset (the squad2fi-qa folder)")
    with _progress(args.json) as progress:
        run = run_squad(settings, args.dataset, args.split, limit=args.limit, progress=progress)
    if args.out:
        write_squad_outputs(run, Path(args.out), args.split)
    summary = {"product": run.summary, "baselines": run.baselines}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        table = Table(title=f"squad2fi-qa answer mode ({args.split})")
        table.add_column("answerer")
        table.add_column("gold in answer", justify="right")
        table.add_column("mean words", justify="right")
        product = run.summary
        table.add_row("Kysy", _fmt(product["gold_in_answer"]), _fmt(product["mean_answer_words"], 1))
        for name, values in run.baselines.items():
            table.add_row(name, _fmt(values["gold_in_answer"]), _fmt(values["mean_answer_words"], 1))
        console = Console()
        console.print(table)
        console.print(f"answerable refused {_fmt(product['answerable_refused'])}, "
                      f"unanswerable refused {_fmt(product['unanswerable_refused'])}")
    return 0


def _run_beir(settings: Settings, args: argparse.Namespace) -> int:
    from eval.beir import BEIR_RETRIEVERS, BeirIndex, evaluate, load_beir
    from eval.report import write_beir_outputs

    missing = [flag for flag in ("corpus", "queries", "qrels") if getattr(args, flag) is None]
    if missing:
        raise ConfigError(f"retrieval mode needs {', '.join('--' + flag for flag in missing)}")
    retrievers = parse_retrievers(args.retrievers, BEIR_RETRIEVERS)
    dataset = load_beir(args.corpus, args.queries, args.qrels, limit=args.limit)
    console = Console(stderr=True)
    if dataset.note and not args.json:
        console.print(dataset.note)
    with _progress(args.json) as progress:
        needs_vectors = any(name in ("dense", "hybrid") for name in retrievers)
        index = BeirIndex(dataset, settings, progress=progress, dense=needs_vectors)
        result = evaluate(index, retrievers, progress=progress)
    summary = {
        "retrievers": result.metrics,
        "queries": result.queries,
        "passages": result.passages,
        "settings": settings_json(settings),
    }
    if args.out:
        write_beir_outputs(result, summary, Path(args.out), embedded=index.embedded)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_retrievers(Console(), result.metrics, f"{result.queries} queries, {result.passages} passages")
        if dataset.note:
            Console().print(dataset.note)
    return 0


def settings_json(settings: Settings) -> dict[str, object]:
    """Every setting as JSON-safe values, secrets left out."""
    from eval.runner import settings_record

    return settings_record(settings)


def _fmt(value: object, digits: int = 3) -> str:
    """A figure for the terminal; "–" where no question qualified for it."""
    return "–" if value is None else f"{value:.{digits}f}"


def _print_retrievers(console: Console, metrics: dict[str, dict[str, float]], caption: str) -> None:
    keys = list(next(iter(metrics.values())).keys()) if metrics else []
    table = Table(title="Retrieval", caption=caption)
    table.add_column("retriever")
    for key in keys:
        table.add_column(key, justify="right")
    for name, values in metrics.items():
        table.add_row(name, *(_fmt(values[key]) for key in keys))
    console.print(table)


def _print_questions(console: Console, summary: dict[str, object], out: Path | None) -> None:
    _print_retrievers(console, summary["retrievers"], f"{summary['questions']} questions")  # type: ignore[arg-type]
    table = Table(title="Answers (hybrid, the product)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary["answers"].items():  # type: ignore[attr-defined]
        table.add_row(key, _fmt(value))
    for key, value in summary["latency_ms"].items():  # type: ignore[attr-defined]
        table.add_row(f"latency {key} (ms)", _fmt(value, 0))
    console.print(table)
    if out:
        console.print(f"report: {Path(out) / 'report.md'}")
