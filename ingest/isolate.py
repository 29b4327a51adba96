"""Run a parser in a separate worker process with a time and memory limit.

A hostile or broken file must not hang or exhaust the ingesting process. The worker is started
once per memory limit and reused, so repeated calls cost a pipe round trip; after a timeout or a
crash it is killed and a fresh one is started on the next call.

The worker is a fresh interpreter running only this module's loop (``python -m ingest.isolate``), not
a ``multiprocessing`` spawn: a spawned child first re-imports the parent's main module, which for a
server or a benchmark means the embedding runtime and more, half a second before the first parse.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kysy.errors import CorruptDocumentError, KysyError, ParseLimitError

logger = logging.getLogger(__name__)

_KILL_GRACE_S = 5.0
_PARSER_LOGGERS = ("pypdf",)
# Where this package can be imported from (the project root, or site-packages).
_ROOT = Path(__file__).resolve().parent.parent


def _worker_main(conn: Connection, memory_mb: int) -> None:
    """Worker loop: apply the address-space limit, then run jobs until the pipe closes."""
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The parsers' own warnings about a broken file ("invalid pdf header") would reach the user's
    # terminal bare; the ingest reports that file's failure once, with the reason, so only errors pass.
    for name in _PARSER_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    while True:
        try:
            func, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", func(*args))
        except MemoryError:
            reply = ("memory", "")
        except KysyError as exc:
            reply = ("kysy", exc)
        except Exception as exc:  # reported to the caller, which translates it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory", ""))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, memory_mb: int) -> None:
        self.conn, child_conn = multiprocessing.Pipe()
        fd = child_conn.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.isolate", str(fd), str(memory_mb)],
            pass_fds=(fd,), stdin=subprocess.DEVNULL, env=_worker_env(),
        )
        child_conn.close()

    def is_alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop the process at once and release the pipe."""
        self.process.kill()
        try:
            self.process.wait(_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.warning("the parser process %s did not stop", self.process.pid)
        self.conn.close()


def _worker_env() -> dict[str, str]:
    """The parent's environment, with this package's root first on the worker's import path (the
    worker keeps the parent's working directory: file paths are passed as the caller gave them)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(_ROOT), env.get("PYTHONPATH", ""))))
    return env


_workers: dict[int, _Worker] = {}
_lock = threading.Lock()


def shutdown_workers() -> None:
    """Stop every idle worker process (called at exit; safe to call any time)."""
    with _lock:
        for worker in _workers.values():
            worker.kill()
        _workers.clear()


atexit.register(shutdown_workers)


def _get_worker(memory_mb: int) -> _Worker:
    worker = _workers.get(memory_mb)
    if worker is None or not worker.is_alive():
        worker = _Worker(memory_mb)
        _workers[memory_mb] = worker
    return worker


def _discard(memory_mb: int) -> None:
    worker = _workers.pop(memory_mb, None)
    if worker is not None:
        worker.kill()


def run_isolated(func: Callable[..., Any], *args: Any, timeout_s: float, memory_mb: int) -> Any:
    """Call ``func(*args)`` in a worker process limited to ``timeout_s`` seconds and ``memory_mb`` MiB.

    ``func`` and its arguments and result must be picklable (a module-level function).

    Raises:
        ParseLimitError: the call ran past the time limit, ran out of memory or the worker died.
        KysyError: the same error ``func`` raised on purpose (e.g. CorruptDocumentError).
        CorruptDocumentError: any other exception in ``func``, with its type and message.
    """
    with _lock:
        worker = _get_worker(memory_mb)
        try:
            worker.conn.send((func, args))
            ready = worker.conn.poll(timeout_s)
            status, value = worker.conn.recv() if ready else ("timeout", None)
        except (EOFError, OSError, BrokenPipeError):
            status, value = "died", None
        if status in ("timeout", "died", "memory"):
            _discard(memory_mb)
    if status == "ok":
        return value
    if status == "kysy" and isinstance(value, BaseException):
        raise value
    if status == "error":
        raise CorruptDocumentError(value)
    reasons = {
        "timeout": f"parsing took longer than {timeout_s:g} s",
        "memory": f"parsing needed more than {memory_mb} MiB of memory",
        "died": "the parser process died (out of memory or crashed)",
    }
    logger.warning("isolated parse stopped: %s", reasons[status])
    raise ParseLimitError(reasons[status])


if __name__ == "__main__":  # the worker: python -m ingest.isolate <pipe fd> <memory MiB>
    _worker_main(Connection(int(sys.argv[1])), int(sys.argv[2]))
