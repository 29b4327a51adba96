"""Admin routes for the corpus: list, upload and delete documents, and feedback as CSV.

An upload is parsed first with the same limits as ingest (``ingest/isolate.py``: time, memory,
pages, file size); only a file that loads is put into ``KYSY_CORPUS_DIR``, a text file as the UTF-8
that ingest decoded it to. Both an upload and a delete then start an index job (``assistant/jobs.py``,
as ``POST /api/admin/reindex`` does: a thread of lower priority, the new generation swapped in while
questions keep being answered from the previous one) and answer 202 at once, or with ``wait=true`` at its end.

What can be deleted is what ingest takes for a document (``ingest.pipeline.scan``): a document of the index,
or a file ingest would index but has not (its job was cut off, cancelled or could not read it), which the
list shows as waiting or failed. Anything ingest leaves out, such as the corpus's own README beside
``sources.json``, is never listed nor deleted.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
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
from ingest.pipeline import scan
from kysy.errors import KysyError

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])

UPLOAD_PATH = "/api/admin/documents"
_CHUNK = 1 << 20
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
    state: str = "indexed"  # "indexed" | "waiting" (in the corpus, not yet indexed) | "failed"
    reason: str | None = None  # why a failed one could not be indexed


@router.get(
    "/documents", summary="The indexed documents with their pages or slides, chunks and dates, and the documents "
    "of the corpus directory not (yet) indexed",
    response_model=list[DocumentRow], responses=error_responses(401, 429, 503),
)
async def list_documents(request: Request) -> list[DocumentRow]:
    """Every document of the generation in service, and every file ingest would index but the index lacks
    (``waiting``, or ``failed`` with the reason the last ingest gave), by file name."""
    state = app_state(request)
    lease = await state.assistants.lease()
    with lease:
        snapshot = lease.assistant.snapshot
        chunks: dict[str, int] = {}
        for chunk in snapshot.chunks:
            chunks[chunk.doc_id] = chunks.get(chunk.doc_id, 0) + 1
        rows = [
            _row(info.file, info.title, info.kind, info.year, info.pages, chunks.get(info.id, 0),
                 snapshot.document_file(info.id), is_slides(info, info.file))
            for info in snapshot.documents.values()
        ]
    indexed = {row.file for row in rows}
    failures = state.jobs.failures()
    for file, path in (await run_in_threadpool(_corpus_documents, state.settings.corpus_dir)).items():
        if file not in indexed:
            row = _row(file, "", "", None, 0, 0, path, False)
            reason = failures.get(file)
            rows.append(row.model_copy(update={"state": "failed" if reason else "waiting", "reason": reason}))
    return sorted(rows, key=lambda row: row.file)


def _row(file: str, title: str, kind: str, year: int | None, pages: int, chunks: int, path: Path | None,
         slides: bool) -> DocumentRow:
    stat = path.stat() if path is not None else None
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
        ApiError: 422 for a hidden, absolute or climbing name, or an unsupported type (415).
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or any(part in ("", ".", "..") or part.startswith(".") for part in path.parts):
        raise ApiError(422, "invalid_request", f"{name!r} is not a document name; give a plain file name")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ApiError(415, "unsupported_file", f"{path.name!r} is not one of the supported types ({kinds})")
    return path


def upload_name(name: str) -> PurePosixPath:
    """The name an upload is stored under: a plain file name, put at the top of the corpus (documents in
    sub-folders come from ``kysy ingest``; the admin page lists and deletes them, but never writes there).

    Raises:
        ApiError: 422 for a name with a folder in it, as for a hidden, absolute or climbing one; 415 for an
            unsupported type.
    """
    path = corpus_name(name)
    if len(path.parts) != 1:
        raise ApiError(422, "invalid_request", f"{name!r} is not a document name; give a plain file name")
    return path


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
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=corpus))
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
            temp.unlink(missing_ok=True)
            staging.rmdir()
        note.outcome = f"accepted, job {job.id}"
    return await job_response(state, job, wait, status=201)


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

    A file the index lacks (listed as waiting or failed) is only removed: the index never had it. Any file
    ingest leaves out (the corpus's README beside ``sources.json``, a hidden or unsupported one) is not a
    document: 404.
    """
    state = app_state(request)
    with audited(request, "delete", name) as note:
        corpus = state.settings.corpus_dir.resolve()
        path = corpus_name(name)
        target = corpus / path
        indexed = await _is_indexed(state, path.as_posix())
        waiting = not indexed and path.as_posix() in await run_in_threadpool(_corpus_documents, corpus)
        if not (indexed or waiting) or not target.is_file() or not target.resolve().is_relative_to(corpus):
            raise ApiError(404, "document_not_found", f"no document {name!r} in the index or the corpus directory")
        with job_slot(state) as slot:
            target.unlink()
            if waiting:
                return JSONResponse({"file": name, "indexed": False})
            job = slot.start("delete", name, client_address(request))
        note.outcome = f"accepted, job {job.id}"
    return await job_response(state, job, wait)


async def _is_indexed(state: AppState, file: str) -> bool:
    """Whether the generation in service has a document of this corpus path."""
    with await state.assistants.lease() as lease:
        return any(info.file == file for info in lease.assistant.snapshot.documents.values())


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
