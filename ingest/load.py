"""File -> Document: pick the loader by suffix, clean every page, attach catalog metadata.

Every format comes out as Markdown-like page text (``#`` headings, ``- `` list items, blank lines
between blocks). Each page passes :func:`ingest.normalize.normalize_text` and then
:func:`ingest.sanitize.strip_instructions`; what was removed is recorded on ``Page.flags`` and
in ``Document.warnings``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ingest.load_text import read_text_file
from ingest.normalize import invisible_chars, normalize_text
from ingest.sanitize import strip_instructions
from kysy.errors import CorruptDocumentError, ParseLimitError, UnsupportedFileError
from kysy.models import Document, Page, content_hash, web_address
from kysy.settings import Settings

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".pptx", ".html", ".htm")
CATALOG_NAME = "sources.json"
_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
}
_FLAG_WARNINGS = {
    "hidden-text-removed": "hidden text removed",
    "invisible-chars-removed": "invisible characters removed",
    "instructions-removed": "instructions to an assistant removed",
}


@dataclass(frozen=True)
class SourceInfo:
    """Catalog metadata of one corpus file (from ``sources.json``)."""

    file: str
    title: str | None = None
    url: str | None = None
    kind: str | None = None
    year: int | None = None
    publisher: str | None = None


def _catalog_url(entry: dict[str, object], path: Path) -> str | None:
    url = entry.get("url") or None
    if url is None:
        return None
    safe = web_address(str(url))
    if safe is None:
        logger.warning("%s: %s has the address %r, which is not http(s); it is left out", path, entry.get("file"), url)
    return safe


def load_catalog(directory: Path) -> dict[str, SourceInfo]:
    """Read ``directory/sources.json`` into ``{file: SourceInfo}``; an absent file gives ``{}``.

    Raises:
        CorruptDocumentError: the file exists but is not valid JSON of the expected shape.
    """
    path = Path(directory) / CATALOG_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        entries = data["documents"] if isinstance(data, dict) else data
        catalog = {}
        for entry in entries:
            year = entry.get("year")
            info = SourceInfo(
                file=str(entry["file"]),
                title=entry.get("title") or None,
                url=_catalog_url(entry, path),
                kind=entry.get("kind") or None,
                year=int(year) if year not in (None, "") else None,
                publisher=entry.get("publisher") or None,
            )
            catalog[info.file] = info
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CorruptDocumentError(
            f"{path}: broken {CATALOG_NAME} ({type(exc).__name__}: {exc}); fix it or remove it"
        ) from exc
    return catalog


def _finish_page(page: Page) -> tuple[Page, list[str]]:
    """Normalise and sanitise one raw page; return it with its flags and the removed snippets."""
    flags = list(page.flags)
    if invisible_chars(page.text):
        flags.append("invisible-chars-removed")
    text, removed = strip_instructions(normalize_text(page.text))
    if removed:
        flags.append("instructions-removed")
        logger.warning("removed %d instruction-like snippet(s): %s", len(removed), removed[:3])
    return dataclasses.replace(page, text=text, flags=tuple(dict.fromkeys(flags))), removed


def _clean_title(title: str | None, warnings: list[str]) -> str | None:
    """The title a file gives itself (metadata, first heading), or None when it addresses a model."""
    if not title:
        return None
    _, removed = strip_instructions(normalize_text(title))
    if removed:
        logger.warning("ignored an instruction-like title: %s", removed[:1])
        warnings.append("instructions removed (title)")
        return None
    return title


def _extract(path: Path, suffix: str, settings: Settings) -> tuple[str | None, list[Page], list[str]]:
    """Run the format loader: (title found in the file, raw pages, warnings)."""
    if suffix == ".pdf":
        from ingest.load_pdf import read_pdf

        title, pages = read_pdf(path, settings)
        return title, pages, []
    if suffix in (".docx", ".pptx"):
        from ingest.load_office import read_docx, read_pptx

        reader = read_docx if suffix == ".docx" else read_pptx
        title, pages = reader(path, settings)
        return title, pages, []
    if suffix in (".html", ".htm"):
        from ingest.isolate import run_isolated
        from ingest.load_html import read_html

        # In the worker, as a PDF is: a page of a thousand nested tables takes cubic time to walk.
        title, page = run_isolated(
            read_html, path, timeout_s=settings.parse_timeout_s, memory_mb=settings.parse_memory_mb
        )
        return title, [page], []
    return read_text_file(path, markdown=suffix == ".md")


def load_file(path: Path, *, name: str, info: SourceInfo | None, settings: Settings) -> Document:
    """Load one file into a :class:`Document`.

    Args:
        path: the file on disk.
        name: its corpus-relative POSIX path, used as ``Document.file`` and hashed into ``Document.id``.
        info: catalog metadata; when given it wins over what the file says about itself.
        settings: limits (file size, pages, parse time and memory).

    Raises:
        UnsupportedFileError: the suffix is not one of ``SUPPORTED_SUFFIXES``.
        CorruptDocumentError: the file cannot be read (empty, truncated, encrypted, no text...).
        ParseLimitError: the file is too big or took too long / too much memory to parse.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(
            f"{name}: unsupported file type {suffix or '(no suffix)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    size = path.stat().st_size
    if size > settings.max_file_mb * 1024 * 1024:
        raise ParseLimitError(
            f"{name}: {size / 2**20:.1f} MiB is more than max_file_mb={settings.max_file_mb}"
        )
    data = path.read_bytes()
    if not data.strip():
        raise CorruptDocumentError(f"{name}: empty file")
    found_title, raw_pages, warnings = _extract(path, suffix, settings)
    pages = []
    for raw in raw_pages:
        page, removed = _finish_page(raw)
        pages.append(page)
    pages = [page for page in pages if page.text or page.number is not None]
    if not any(page.text for page in pages):
        raise CorruptDocumentError(f"{name}: no text left after cleaning")
    for flag, message in _FLAG_WARNINGS.items():
        numbers = [page.number for page in pages if flag in page.flags]
        if numbers:
            where = "" if numbers == [None] else f" (pages {', '.join(str(n) for n in numbers)})"
            warnings.append(f"{message}{where}")
    title = (info.title if info and info.title else None) or _clean_title(found_title, warnings) or path.stem
    return Document(
        id=hashlib.sha256(name.encode("utf-8")).hexdigest()[:16],
        file=name,
        title=normalize_text(title),
        url=info.url if info else None,
        kind=(info.kind if info and info.kind else None) or _KINDS[suffix],
        text="\n\n".join(page.text for page in pages if page.text),
        pages=tuple(pages),
        content_hash=content_hash(data),
        year=info.year if info else None,
        publisher=info.publisher if info else None,
        warnings=tuple(warnings),
    )
