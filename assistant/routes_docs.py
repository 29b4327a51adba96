"""Documents of the index (list, page texts, the original file) and the demo page and widget files."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from assistant.app_state import AssistantDep, app_state
from assistant.http_errors import ApiError
from assistant.links import public_base
from assistant.openapi import error_responses
from assistant.schemas import document_file_url
from assistant.service import Assistant
from ingest.load_text import decode_text
from kysy.errors import CorruptDocumentError
from kysy.models import DocumentInfo, web_address

router = APIRouter()

STATIC_DIR = Path(__file__).parent / "static"

# Public path -> (file under static/, Cache-Control).
_STATIC_FILES = {
    "/": ("demo.html", "no-cache"),
    "/demo-hostile.html": ("demo-hostile.html", "no-cache"),
    "/demo.css": ("demo.css", "no-cache"),
    "/demo.js": ("demo.js", "no-cache"),
    "/demo-hostile.css": ("demo-hostile.css", "no-cache"),
    "/widget.js": ("widget.js", "public, max-age=300"),
    "/widget.css": ("widget.css", "public, max-age=300"),
    "/admin": ("admin.html", "no-cache"),
    "/admin.js": ("admin.js", "no-cache"),
    "/admin.css": ("admin.css", "no-cache"),
    "/favicon.ico": ("favicon.ico", "public, max-age=86400"),
    "/favicon.svg": ("favicon.svg", "public, max-age=86400"),
}

_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

# A corpus HTML file is someone else's page: shown inert, never able to run script on this origin.
_SANDBOX_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def document_json(info: DocumentInfo, base: str = "") -> dict[str, object]:
    """A document's metadata as the API lists it (``file_url`` absolute under ``base``)."""
    return {
        "id": info.id,
        "file": info.file,
        "title": info.title,
        "url": web_address(info.url),
        "kind": info.kind,
        "year": info.year,
        "pages": info.pages,
        "file_url": document_file_url(info.id, None, base),
    }


def _document(assistant: Assistant, doc_id: str) -> DocumentInfo:
    info = assistant.snapshot.documents.get(doc_id)
    if info is None:
        raise ApiError(404, "document_not_found", f"no document with id {doc_id!r} in the index")
    return info


@router.get("/api/documents", summary="The documents answers are drawn from", responses=error_responses(503))
async def list_documents(assistant: AssistantDep, request: Request) -> list[dict[str, object]]:
    """All indexed documents, by file name."""
    documents = sorted(assistant.snapshot.documents.values(), key=lambda info: info.file)
    base = _base(request)
    return [document_json(info, base) for info in documents]


def _base(request: Request) -> str:
    return public_base(app_state(request).settings.public_url, str(request.base_url))


@router.get(
    "/api/documents/{doc_id}", summary="A document's metadata and text per page", responses=error_responses(404, 503)
)
def get_document(doc_id: str, assistant: AssistantDep, request: Request) -> dict[str, object]:
    """Metadata plus ``page_texts: [{"page", "text"}]`` (``page`` is null for unpaged texts)."""
    info = _document(assistant, doc_id)
    pages = [{"page": page.number, "text": page.text} for page in assistant.snapshot.pages(doc_id)]
    return {**document_json(info, _base(request)), "publisher": info.publisher, "page_texts": pages}


_FILE = {
    "description": "The original file",
    "content": {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for media in set(_TYPES.values())},
}


@router.get(
    "/api/documents/{doc_id}/file", summary="The original file, shown inline", response_class=FileResponse,
    responses={200: _FILE, **error_responses(404, 503)},
)
def get_document_file(doc_id: str, assistant: AssistantDep) -> Response:
    """The file the index lists for ``doc_id`` (PDFs open at ``#page=N``); nothing else is ever served."""
    info = _document(assistant, doc_id)
    # Resolved now, at serving time: a file replaced by a link out of the corpus is not served.
    path = assistant.snapshot.document_file(doc_id)
    if path is None or path.suffix.lower() != Path(info.file).suffix.lower():
        raise ApiError(404, "file_missing", f"the file of {info.file!r} is no longer on the server")
    suffix = path.suffix.lower()
    media_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": "no-cache"}
    if media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = _SANDBOX_CSP
    if media_type.startswith("text/") and (text := _recoded(path, Path(info.file).name)) is not None:
        headers["Content-Disposition"] = f"inline; filename*=utf-8''{quote(Path(info.file).name)}"
        return Response(text.encode("utf-8"), media_type=media_type, headers=headers)
    return FileResponse(
        path, media_type=media_type, filename=Path(info.file).name, content_disposition_type="inline",
        headers=headers,
    )


def _recoded(path: Path, name: str) -> str | None:
    """A cp1252 or UTF-16 text file's text, decoded as the index was built from it (so that what the browser
    shows, and the quote a citation link looks for, are the indexed words); None for a UTF-8 file, which is
    served as it is (and for one that cannot be read, left to the file response).

    Raises:
        ApiError: 404 when the file's bytes no longer decode.
    """
    try:
        data = path.read_bytes()
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    except OSError:
        return None
    try:
        return decode_text(data, name)[0]
    except CorruptDocumentError as exc:
        raise ApiError(404, "file_missing", f"the file of {name!r} can no longer be read: {exc}") from exc


def _static(name: str, cache_control: str) -> FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise ApiError(404, "not_found", f"{name} is not installed on this server")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache_control})


def _static_route(name: str, cache_control: str):  # type: ignore[no-untyped-def]
    async def serve() -> FileResponse:
        return _static(name, cache_control)

    serve.__doc__ = f"Serve static/{name}."
    return serve


for _path, (_name, _cache) in _STATIC_FILES.items():
    router.add_api_route(_path, _static_route(_name, _cache), methods=["GET"], include_in_schema=False)
