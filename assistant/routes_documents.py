"""Admin routes for the corpus: list, upload and delete documents, and feedback as CSV.

An upload is parsed first with the same limits as ingest (``ingest/isolate.py``: time, memory,
pages, file size); only a file that loads is put into ``KYSY_CORPUS_DIR``, a text file as the UTF-8
that ingest decoded it to. Only a document of the index can be deleted. Both an upload and a
delete then re-index (as ``POST /api/admin/reindex`` does: a thread of lower priority, the new
generation swapped in while questions keep being answered from the previous one).
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
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AppState, app_state
from assistant.http_errors import ApiError
from assistant.links import is_slides
from assistant.openapi import error_responses
from assistant.routes_admin import audited, corpus_dir, in_background_thread, reindex_now, require_admin
from ingest.load import SUPPORTED_SUFFIXES, load_file
from ingest.load_text import decode_text
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


@router.get(
    "/documents", summary="The indexed documents with their pages or slides, chunks and dates",
    response_model=list[DocumentRow], responses=error_responses(401, 429, 503),
)
async def list_documents(request: Request) -> list[DocumentRow]:
    """Every document of the generation in service, by file name."""
    lease = await app_state(request).assistants.lease()
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
    return sorted(rows, key=lambda row: row.file)


def _row(file: str, title: str, kind: str, year: int | None, pages: int, chunks: int, path: Path | None,
         slides: bool) -> DocumentRow:
    stat = path.stat() if path is not None else None
    modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds") if stat else None
    return DocumentRow(file=file, title=title, kind=kind, year=year, pages=pages, unit="dia" if slides else "sivu",
                       chunks=chunks, size_bytes=stat.st_size if stat else None, modified=modified)


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
    "/documents", status_code=201, summary="Add or replace a document (multipart field `file`), then re-index",
    responses=error_responses(401, 409, 413, 415, 422, 429, 500),
)
async def upload_document(request: Request, file: UploadFile = File(...)) -> dict[str, object]:  # noqa: B008
    """Parse the file with the ingest limits, put it at the top of the corpus (a plain file name) and re-index.

    A file that does not load is refused with its name and the reason, and an error code by kind:
    `empty_file`, `not_text` (binary, or not UTF-8, UTF-16 with a BOM or cp1252), `unreadable_pdf`,
    `corrupt_document` (any other reason), `parse_limit` (422); `too_large` (413); `unsupported_file` (415).
    """
    state = app_state(request)
    with audited(request, "upload", file.filename or "-"):
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
            if not state.reindex_lock.acquire(blocking=False):
                raise ApiError(409, "index_locked", "a reindex is running; try again when it has finished")
            os.replace(temp, corpus / name)
        finally:
            temp.unlink(missing_ok=True)
            staging.rmdir()
        body = await in_background_thread(lambda: reindex_now(state))
    return {"file": name.as_posix(), **body}


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
    "/documents/{name:path}", summary="Remove a document from the corpus, then re-index",
    responses=error_responses(401, 404, 409, 415, 422, 429),
)
async def delete_document(name: str, request: Request) -> dict[str, object]:
    """Delete ``name`` (a document of the index, as the list gives it) and re-index without it.

    Any other file of ``KYSY_CORPUS_DIR`` (its README, one that failed to load) is not a document: 404.
    """
    state = app_state(request)
    with audited(request, "delete", name):
        corpus = state.settings.corpus_dir.resolve()
        path = corpus_name(name)
        target = corpus / path
        indexed = await _is_indexed(state, path.as_posix())
        if not indexed or not target.is_file() or not target.resolve().is_relative_to(corpus):
            raise ApiError(404, "document_not_found", f"no document {name!r} in the index")
        if not state.reindex_lock.acquire(blocking=False):
            raise ApiError(409, "index_locked", "a reindex is running; try again when it has finished")
        try:
            target.unlink()
        except OSError:
            state.reindex_lock.release()
            raise
        body = await in_background_thread(lambda: reindex_now(state))
    return {"file": name, **body}


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
