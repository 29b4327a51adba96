"""Admin routes for the corpus: list, upload and delete documents, and feedback as CSV.

An upload is parsed first with the same limits as ingest (``ingest/isolate.py``: time, memory,
pages, file size); only a file that loads is put into ``KYSY_CORPUS_DIR``, a text file as the UTF-8
that ingest decoded it to. Both an upload and a delete then start an index job (``assistant/jobs.py``,
as ``POST /api/admin/reindex`` does: a thread of lower priority, the new generation swapped in while
questions keep being answered from the previous one) and answer 202 at once, or with ``wait=true`` at its end.

What can be deleted is what ingest takes for a document (``ingest.pipeline.scan``): a document of the index,
or a file ingest would index but has not (its job was cut off, cancelled or could not read it), which the
list shows as waiting or failed. A document whose file differs from the indexed one or is gone (a replace or
delete whose job was cancelled: the change to the corpus stays until a reindex applies it) is listed as changed.
Anything ingest leaves out, such as the corpus's own README beside ``sources.json``, is never listed nor deleted.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AppState, app_state, client_address
from assistant.http_errors import ApiError
from assistant.links import is_slides
from assistant.openapi import error_responses
from assistant.routes_admin import WAIT, audited, corpus_dir, job_response, job_slot, require_admin
from ingest.load import SUPPORTED_SUFFIXES, load_file
from ingest.load_text import decode_text
from ingest.pipeline import file_hash, printable_name, scan
from ingest.store import FileRecord, Snapshot
from kysy.errors import KysyError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])

UPLOAD_PATH = "/api/admin/documents"
_CHUNK = 1 << 20
# An upload is checked in a hidden folder of the corpus (the scan never enters one; the same file system, so the
# file is moved into place at once), named for the process so that a restarted server knows which are left over.
STAGING_PREFIX = ".upload-"
# The longest file name (in UTF-8 bytes) of the common Linux file systems (ext4, XFS, Btrfs).
MAX_NAME_BYTES = 255
# The corpus's own documentation (ingest leaves it out beside sources.json): an upload under its name, in any
# case, would overwrite it, or be a document that is never indexed.
_README = "readme.md"
# The suffixes whose loaders decode bytes with ``decode_text``: such an upload is stored as the UTF-8 it
# decoded to, so the file served inline as UTF-8 is the text that was indexed (and `#:~:text=` finds it).
_TEXT_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm"})
# A failed upload by kind: the reason ingest gives (its wording is the CLI's too) -> HTTP status, error code.
_UPLOAD_FAILURES: tuple[tuple[str, int, str], ...] = (
    ("empty file", 422, "empty_file"),
    ("not a text file", 422, "not_text"),
    ("not a readable PDF", 422, "unreadable_pdf"),
    ("is more than max_file_mb", 413, "too_large"),
)


class DocumentRow(BaseModel):
    """One document as the admin page lists it."""

    file: str
    title: str
    kind: str
    year: int | None
    pages: int
    unit: str  # "sivu" | "dia"
    chunks: int
    size_bytes: int | None
    modified: str | None
    # "indexed" | "waiting" (in the corpus, not yet indexed) | "failed" | "changed" (indexed, but its file differs
    # or is gone: a change whose job was cancelled or has not run yet; the next reindex applies it)
    state: str = "indexed"
    reason: str | None = None  # why a failed one could not be indexed, or what changed


@router.get(
    "/documents", summary="The indexed documents with their pages or slides, chunks and dates, and the documents "
    "of the corpus directory not (yet) indexed",
    response_model=list[DocumentRow], responses=error_responses(401, 429, 503),
)
async def list_documents(request: Request) -> list[DocumentRow]:
    """Every document of the generation in service (``changed`` when its file differs from the indexed one or
    is gone), and every file ingest would index but the index lacks (``waiting``, or ``failed`` with the reason
    the last ingest gave), by file name."""
    state = app_state(request)
    with await state.assistants.lease() as lease:
        snapshot = lease.assistant.snapshot
        failures = state.jobs.failures()  # the last job's; before one, what the ingest before this process found
        return await run_in_threadpool(
            _listing, snapshot, state.settings.corpus_dir, snapshot.failed_files if failures is None else failures
        )


def _listing(snapshot: Snapshot, corpus: Path, failures: dict[str, str]) -> list[DocumentRow]:
    chunks = Counter(chunk.doc_id for chunk in snapshot.chunks)
    home = corpus.resolve()
    rows = []
    for info in snapshot.documents.values():
        row = _row(info.file, info.title, info.kind, info.year, info.pages, chunks[info.id],
                   snapshot.document_file(info.id), is_slides(info, info.file))
        change = _pending_change(snapshot, info.id, home)
        if change:
            row = row.model_copy(update={"state": "changed", "reason": failures.get(info.file) or change})
        rows.append(row)
    indexed = {row.file for row in rows}
    for file, path in _corpus_documents(corpus).items():
        if file not in indexed:
            shown = printable_name(file)  # a name that is no UTF-8 fails in ingest under this name
            row = _row(shown, "", "", None, 0, 0, path, False)
            reason = failures.get(shown)
            rows.append(row.model_copy(update={"state": "failed" if reason else "waiting", "reason": reason}))
    return sorted(rows, key=lambda row: row.file)


def _pending_change(snapshot: Snapshot, doc_id: str, corpus: Path) -> str | None:
    """What differs between a document of the corpus directory as indexed and its file now (a replace or delete
    whose job was cancelled, or is still running), or None; compared as ingest does: size and time, then hash."""
    record = snapshot.file_record(doc_id)
    if record is None or Path(record.root) != corpus:
        return None  # ingested from elsewhere: a reindex of the corpus directory never touches it
    path = Path(record.path)
    try:
        stat = path.stat()
        if record.same_stat(stat) or file_hash(path) == record.content_hash:
            return None
    except FileNotFoundError:
        return "the file is gone from the corpus directory; the next reindex removes it from the index"
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror})"
    return "the file differs from the indexed one; the next reindex indexes it"


def _row(file: str, title: str, kind: str, year: int | None, pages: int, chunks: int, path: Path | None,
         slides: bool) -> DocumentRow:
    try:
        stat = path.stat() if path is not None else None
    except OSError:  # gone since the scan (a delete meanwhile)
        stat = None
    modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds") if stat else None
    return DocumentRow(file=file, title=title, kind=kind, year=year, pages=pages, unit="dia" if slides else "sivu",
                       chunks=chunks, size_bytes=stat.st_size if stat else None, modified=modified)


def _corpus_documents(corpus: Path) -> dict[str, Path]:
    """The files of ``corpus`` that ingest takes for documents, by corpus path (none when it is missing)."""
    if not corpus.is_dir():
        return {}
    found, _, _ = scan([corpus])
    return {source.name: source.path for source in found}


def corpus_name(name: str) -> PurePosixPath:
    """A document's name inside the corpus: a relative path of plain parts with a supported suffix.

    Raises:
        ApiError: 422 for a hidden, absolute or climbing name, one with a control character or a part longer than
            ``MAX_NAME_BYTES``; 415 for an unsupported type.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or any(part in ("", ".", "..") or part.startswith(".") for part in path.parts):
        raise ApiError(422, "invalid_request", f"{name!r} is not a document name; give a plain file name")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise ApiError(422, "invalid_request", f"{name!r} is not a document name: control characters are not allowed")
    longest = max(len(part.encode("utf-8")) for part in path.parts)
    if longest > MAX_NAME_BYTES:
        raise ApiError(422, "invalid_request", (
            f"the name {name[:40]!r}... is too long: {longest} bytes in UTF-8, and the limit is {MAX_NAME_BYTES}"
        ))
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ApiError(415, "unsupported_file", f"{path.name!r} is not one of the supported types ({kinds})")
    return path


def upload_name(name: str) -> PurePosixPath:
    """The name an upload is stored under: a plain file name in NFC (a name typed on a Mac, "äiti.txt" decomposed,
    is the same document as one typed elsewhere), put at the top of the corpus (documents in sub-folders come
    from ``kysy ingest``; the admin page lists and deletes them, but never writes there).

    Raises:
        ApiError: 422 for a name with a folder in it, as for a hidden, absolute, climbing or too long one, or one
            with a control character; 422 for README.md, the corpus's own documentation beside sources.json; 415
            for an unsupported type.
    """
    path = corpus_name(unicodedata.normalize("NFC", name))
    if len(path.parts) != 1:
        raise ApiError(422, "invalid_request", f"{name!r} is not a document name; give a plain file name")
    if path.name.lower() == _README:
        raise ApiError(422, "invalid_request", (
            f"{name!r} is the name of the corpus's own README, which is not indexed as a document; "
            "give the document another name"
        ))
    return path


def remove_stale_staging(corpus: Path) -> None:
    """Remove the staging folders that uploads of a process no longer running (this server before a crash or
    restart) left in ``corpus``; a running process's own are left alone."""
    for folder in corpus.glob(f"{STAGING_PREFIX}*"):
        owner = folder.name.removeprefix(STAGING_PREFIX).partition("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and _running(int(owner)):
            continue
        logger.info("removing %s, left by an upload that did not finish", folder)
        _remove_staging(folder)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by another user
        return True
    return True


def _remove_staging(folder: Path) -> None:
    """Remove an upload's staging folder with whatever is in it; a failure is logged, never raised over the
    upload's own outcome."""

    def report(_function: object, path: str, _info: object) -> None:
        logger.warning("could not remove %s of an upload's staging folder", path, exc_info=True)

    shutil.rmtree(folder, onerror=report)


@router.post(
    "/documents", status_code=202,
    summary="Add or replace a document (multipart field `file`), then re-index as a job (202), or with "
    "`wait=true` to the end (201)",
    responses={201: {"description": "With `wait=true`: the file, the ingest report and the generation now served"},
               **error_responses(401, 409, 413, 415, 422, 429, 500)},
)
async def upload_document(
    request: Request, file: UploadFile = File(...), wait: bool = WAIT  # noqa: B008
) -> JSONResponse:
    """Parse the file with the ingest limits, put it at the top of the corpus (a plain file name) and start
    an index job (follow it at ``GET /api/admin/reindex``); 409 ``index_locked`` while a job runs.

    A file that does not load is refused with its name and the reason, and an error code by kind:
    `empty_file`, `not_text` (binary, or not UTF-8, UTF-16 with a BOM or cp1252), `unreadable_pdf`,
    `corrupt_document` (any other reason), `parse_limit` (422); `too_large` (413); `unsupported_file` (415).
    Until its job has indexed it, the file is listed as waiting, and can be deleted.
    """
    state = app_state(request)
    with audited(request, "upload", file.filename or "-") as note:
        name = upload_name(file.filename or "")
        corpus = corpus_dir(state.settings)
        # A hidden folder (ingest skips it) holding the file under its own name, which is the one ingest's
        # messages then give.
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=corpus))
        temp = staging / name.name
        try:
            with temp.open("wb") as out:
                while block := await file.read(_CHUNK):
                    out.write(block)
            await run_in_threadpool(_check_loads, temp, state)
            with job_slot(state) as slot:
                os.replace(temp, corpus / name)
                job = slot.start("upload", name.as_posix(), client_address(request))
        finally:
            _remove_staging(staging)
        note.outcome = f"accepted, job {job.id}"
    return await job_response(state, job, wait, request, status=201)


def _check_loads(path: Path, state: AppState) -> None:
    """Store a text file as the UTF-8 ingest decodes it to, then load it as ingest will (isolated, with its
    limits), so what is checked is what will be indexed.

    Raises:
        ApiError: the reason and its code (``_UPLOAD_FAILURES``) when it does not load.
    """
    try:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            data = path.read_bytes()
            text, _ = decode_text(data, path.name)
            if text.encode("utf-8") != data:
                path.write_text(text, encoding="utf-8", newline="")
        document = load_file(path, name=path.name, info=None, settings=state.settings)
    except KysyError as exc:
        raise _upload_error(path.name, exc) from exc
    except Exception as exc:  # a loader's own failure: this file is refused, as ingest would skip it
        logger.warning("upload %r could not be read", path.name, exc_info=True)
        raise ApiError(422, "corrupt_document",
                       f"{path.name}: could not be read ({type(exc).__name__}: {exc})") from exc
    if not any(page.text.strip() for page in document.pages):
        raise ApiError(422, "corrupt_document", f"{path.name}: no text to index")


def _upload_error(name: str, exc: KysyError) -> ApiError:
    """The API error of an upload that did not load: its name once, ingest's reason, a code by kind."""
    reason = str(exc).removeprefix(f"{name}: ")
    for marker, status, code in _UPLOAD_FAILURES:
        if marker in reason:
            return ApiError(status, code, f"{name}: {reason}")
    return ApiError(422, exc.code, f"{name}: {reason}")


@router.delete(
    "/documents/{name:path}",
    summary="Remove a document from the corpus, then re-index as a job (202), or with `wait=true` to the end",
    responses={200: {"description": "A file the index never had (nothing to re-index), or with `wait=true` the "
                                    "ingest report"},
               **error_responses(401, 404, 409, 415, 422, 429)},
)
async def delete_document(name: str, request: Request, wait: bool = WAIT) -> JSONResponse:
    """Delete ``name`` (as the list gives it) and re-index without it; 409 ``index_locked`` while a job runs.

    A file the index lacks (listed as waiting or failed) is only removed: the index never had it. A document the
    index has whose file is gone already (listed as changed: a delete whose job was cancelled) gets the job
    alone. Any file ingest leaves out (the corpus's README beside ``sources.json``, a hidden or unsupported
    one) is not a document: 404.
    """
    state = app_state(request)
    with audited(request, "delete", name) as note:
        corpus = state.settings.corpus_dir.resolve()
        path = corpus_name(name)
        target = corpus / path
        record = await _indexed_record(state, path.as_posix())
        waiting = record is None and path.as_posix() in await run_in_threadpool(_corpus_documents, corpus)
        present = target.is_file() and target.resolve().is_relative_to(corpus)
        gone = record is not None and Path(record.root) == corpus and not os.path.lexists(target)
        if not (record is not None or waiting) or not (present or gone):
            raise ApiError(404, "document_not_found", f"no document {name!r} in the index or the corpus directory")
        with job_slot(state) as slot:
            if present:
                target.unlink()
            if waiting:
                return JSONResponse({"file": name, "indexed": False})
            job = slot.start("delete", name, client_address(request))
        note.outcome = f"accepted, job {job.id}"
    return await job_response(state, job, wait, request)


async def _indexed_record(state: AppState, file: str) -> FileRecord | None:
    """What the generation in service remembers of the document of this corpus path, or None."""
    with await state.assistants.lease() as lease:
        snapshot = lease.assistant.snapshot
        found = next((doc_id for doc_id, info in snapshot.documents.items() if info.file == file), None)
        return None if found is None else snapshot.file_record(found)


@router.get(
    "/feedback.csv", summary="All feedback as CSV (UTF-8 with BOM, for spreadsheets)",
    response_class=StreamingResponse, responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **error_responses(401, 429),
    },
)
async def feedback_csv(request: Request) -> StreamingResponse:
    """Every piece of feedback, newest first, a page at a time (never all in memory)."""
    store = app_state(request).feedback

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "created", "rating", "question", "answer", "comment"])
        yield "\ufeff" + _drain(buffer)
        before = None
        while True:
            page = store.page(before=before, limit=500)
            for entry in page.entries:
                writer.writerow([entry.id, entry.created, entry.rating, _cell(entry.question), _cell(entry.answer),
                                 _cell(entry.comment or "")])
            yield _drain(buffer)
            if page.next_before is None:
                return
            before = page.next_before

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="kysy-palaute.csv"', "Cache-Control": "no-store",
    })


def _cell(text: str) -> str:
    """A user's text as a spreadsheet shows it, never as a formula (``=HYPERLINK(...)`` stays text)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
