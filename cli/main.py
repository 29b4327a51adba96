"""The ``kysy`` command line: ingest, ask, serve, eval. The only place that prints or exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kysy.errors import KysyError
from kysy.settings import Settings, load_settings, unknown_settings

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def _settings(args: argparse.Namespace) -> Settings:
    """CLI flag > env var > default: only flags the user gave override the environment.

    Raises:
        ConfigError: a setting has a value Kysy cannot use (one line per bad setting).
    """
    overrides = {
        key: value
        for key, value in {
            "data_dir": getattr(args, "data_dir", None),
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "workers": getattr(args, "workers", None),
            "proxy_headers": getattr(args, "proxy_headers", None),
            "forwarded_allow_ips": getattr(args, "forwarded_allow_ips", None),
            "top_k": getattr(args, "top_k", None),
        }.items()
        if value is not None
    }
    return load_settings(**overrides)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from cli.ingest import run_ingest

    return run_ingest(_settings(args), [Path(p) for p in args.paths], rebuild=args.rebuild, as_json=args.json)


def _cmd_ask(args: argparse.Namespace) -> int:
    from cli.ask import run_ask

    return run_ask(_settings(args), args.question, as_json=args.json)


def _cmd_chat(args: argparse.Namespace) -> int:
    from cli.chat import run_chat

    return run_chat(_settings(args))


def _cmd_serve(args: argparse.Namespace) -> int:
    from assistant.request_ids import RequestIdFilter
    from assistant.server import run_server
    from ingest.vectors import make_client

    settings = _settings(args)
    if settings.chroma_url:
        # Refuse to start, in one line, rather than serve 503s: the server never reaches Chroma by itself
        # later, and a supervisor that restarts it (compose, systemd, Kubernetes) retries until Chroma is up.
        make_client(settings)
    if settings.reranker:
        from assistant.rerank import make_reranker

        # One that cannot be loaded stops here in one line, not in the app's start-up (which takes this one).
        make_reranker(settings.reranker)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter(_LOG_FORMAT + "%(request_tag)s"))
    # Every admin change (upload, delete, reindex) is logged, also without -v, and so is how far an index
    # job has come (a line every KYSY_PROGRESS_LOG_S seconds).
    logging.getLogger("assistant.audit").setLevel(logging.INFO)
    logging.getLogger("assistant.jobs").setLevel(logging.INFO)
    run_server(settings)
    return EXIT_OK


def _cmd_glossary(args: argparse.Namespace) -> int:
    from cli.glossary import run_glossary

    return run_glossary(_settings(args), limit=args.limit, as_json=args.json)


def _cmd_eval(args: argparse.Namespace) -> int:
    from cli.eval import run_eval

    return run_eval(_settings(args), args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kysy", description="Cited answers over the yhdyspinnat materials.")
    # Text, not Path: Path("") is ".", and an empty --data-dir "$DIR" must be refused as KYSY_DATA_DIR= is.
    parser.add_argument("--data-dir", help="index directory (env KYSY_DATA_DIR, default .kysy)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index documents (incremental)")
    ingest.add_argument("paths", nargs="+", help="files or directories to index")
    ingest.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(func=_cmd_ingest)

    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, dest="top_k")
    ask.add_argument("--json", action="store_true", help="print the API's JSON response")
    ask.set_defaults(func=_cmd_ask)

    chat = sub.add_parser(
        "chat", help="a conversation on the terminal (/uusi starts over, /apua lists the commands, Ctrl-D quits)"
    )
    chat.add_argument("--top-k", type=int, dest="top_k")
    chat.set_defaults(func=_cmd_chat)

    serve = sub.add_parser("serve", help="run the HTTP service and the chat widget")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="server processes (env KYSY_WORKERS, default 1)")
    serve.add_argument(
        "--proxy-headers", action="store_true", default=None,
        help="behind a reverse proxy: take the client address from X-Forwarded-For (env KYSY_PROXY_HEADERS)",
    )
    serve.add_argument(
        "--forwarded-allow-ips", metavar="IPS",
        help="comma-separated proxy addresses trusted with --proxy-headers (env KYSY_FORWARDED_ALLOW_IPS, "
        "default 127.0.0.1)",
    )
    serve.set_defaults(func=_cmd_serve)

    glossary = sub.add_parser(
        "glossary", help="the indexed words no Swedish or English glossary phrase reaches (what to translate next)"
    )
    glossary.add_argument("--limit", type=int, default=0, help="only the N most frequent (default: all)")
    glossary.add_argument("--json", action="store_true", help="print one JSON object")
    glossary.set_defaults(func=_cmd_glossary)

    ev = sub.add_parser(
        "eval", help="evaluate retrieval and answers",
        description="questions (default): ask a question set of the index and score retrieval and answers; "
        "retrieval: a BEIR-style retrieval benchmark; squad: answer squad2fi-qa's questions over its articles. "
        "README.md \"Evaluation\" documents the question-set format and the figures.",
    )
    ev.add_argument("mode", nargs="?", default="questions", choices=["questions", "retrieval", "squad"],
                    help="what to evaluate (default: questions)")
    ev.add_argument("--questions", type=Path, default=Path("eval/questions.fi.jsonl"),
                    help="questions mode: the question set, UTF-8 JSON Lines, one question object a line (id, question, "
                    "answerable, type, sources, evidence, answer_keywords; optional pages, history), checked against "
                    "the index before anything is asked (default: eval/questions.fi.jsonl)")
    ev.add_argument("--corpus", type=Path, help="BEIR corpus.jsonl (retrieval mode)")
    ev.add_argument("--queries", type=Path, help="BEIR queries.jsonl (retrieval mode)")
    ev.add_argument("--qrels", type=Path, help="BEIR qrels.tsv (retrieval mode)")
    ev.add_argument("--retrievers", help="comma-separated retriever names")
    ev.add_argument("--dataset", type=Path,
                    help="squad mode: the squad2fi-qa folder, holding <split>_qa.jsonl.gz and "
                    "<split>_unanswerable.jsonl.gz (gzipped JSON Lines: id, question, context, doc, para, title, "
                    "answers.text); its articles are ingested into the data directory")
    ev.add_argument("--cv-models", type=Path, dest="cv_models",
                    help="questions mode: folder of make train's fold models: also report the answers cross-validated")
    ev.add_argument("--split", default="dev", choices=["train", "dev"], help="squad2fi-qa split (squad mode)")
    ev.add_argument("--out", type=Path, help="write metrics, per-question results, report and plots here "
                    "(checked writable before anything is asked)")
    ev.add_argument("--limit", type=int,
                    help="questions mode: only the first N questions (the whole file is still checked); squad mode: "
                    "N questions spread over the split (every k-th), and only their articles are ingested; "
                    "retrieval mode: the first N queries over their relevant passages and some others")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=_cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kysy`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format=_LOG_FORMAT, stream=sys.stderr,
    )
    for warning in unknown_settings(os.environ):
        print(f"kysy: warning: {warning}", file=sys.stderr)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KysyError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.code, "message": str(exc)}, ensure_ascii=False))
        else:
            for line in str(exc).splitlines():
                print(f"kysy: {line}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt as exc:  # Ctrl-C; SIGTERM too while ingesting (``cli.ingest.Terminated``)
        print("kysy: interrupted; the previous index is intact, run the command again to finish", file=sys.stderr)
        return int(getattr(exc, "exit_status", 130))
    except BrokenPipeError:
        # The reader of the output has gone (`kysy ask ... | head -3`): stop quietly, as shell tools do, with
        # standard output pointed at nothing so that the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
