"""Word (.docx) and PowerPoint (.pptx) files.

DOCX becomes one unnumbered page (headings, lists, tables as ``a | b`` rows); hidden, white and
tiny runs are dropped. PPTX becomes one page per slide: the title as ``#``, text frames as
paragraphs or list items, tables as rows, speaker notes under ``## Muistiinpanot``.
Both are zip archives; their uncompressed size is checked before parsing (zip bombs).
"""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path
from typing import Any

from kysy.errors import CorruptDocumentError, ParseLimitError
from kysy.models import Page
from kysy.settings import Settings

logger = logging.getLogger(__name__)

ZIP_EXPANSION_LIMIT = 20  # uncompressed size may be at most this many times max_file_mb
MIN_FONT_PT = 2.0
NOTES_HEADING = "## Muistiinpanot"
_WHITE = {"FFFFFF", "FEFEFE", "FDFDFD", "FCFCFC"}


def check_zip(path: Path, settings: Settings) -> None:
    """Refuse a file that is not a zip archive or that would expand past the size limit.

    Raises:
        CorruptDocumentError: not a zip archive.
        ParseLimitError: the total uncompressed size is above ``ZIP_EXPANSION_LIMIT * max_file_mb``.
    """
    limit = ZIP_EXPANSION_LIMIT * settings.max_file_mb * 1024 * 1024
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptDocumentError(
            f"{path.name}: not a valid {path.suffix} file (not a zip archive: {exc})"
        ) from exc
    if total > limit:
        raise ParseLimitError(
            f"{path.name}: expands to {total / 2**20:.0f} MiB, more than the {limit / 2**20:.0f} MiB limit"
        )


def _open(path: Path, settings: Settings, opener: Any) -> Any:
    check_zip(path, settings)
    try:
        return opener(str(path))
    except Exception as exc:  # python-docx/-pptx raise many types for a broken package
        raise CorruptDocumentError(
            f"{path.name}: not a valid {path.suffix} file ({type(exc).__name__}: {exc})"
        ) from exc


def _run_hidden(run: Any) -> bool:
    font = run.font
    if font.hidden or (run.style is not None and run.style.font.hidden):
        return True
    if font.size is not None and font.size.pt < MIN_FONT_PT:
        return True
    try:
        rgb = font.color.rgb if font.color is not None and font.color.type is not None else None
    except (AttributeError, ValueError):
        rgb = None
    return rgb is not None and str(rgb).upper() in _WHITE


def _paragraph_text(paragraph: Any, hidden: list[int]) -> str:
    parts = []
    style_hidden = paragraph.style is not None and bool(paragraph.style.font.hidden)
    for item in paragraph.iter_inner_content():
        runs = getattr(item, "runs", [item])
        for run in runs:
            if style_hidden or _run_hidden(run):
                if run.text.strip():
                    hidden.append(1)
            else:
                parts.append(run.text)
    return "".join(parts).strip()


def _docx_block(paragraph: Any, hidden: list[int], counters: dict[str, int]) -> str | None:
    text = _paragraph_text(paragraph, hidden)
    if not text:
        return None
    style = paragraph.style.name if paragraph.style is not None else ""
    heading = re.match(r"Heading (\d)", style)
    if heading:
        return "#" * min(int(heading.group(1)), 6) + " " + text
    if style == "Title":
        return f"# {text}"
    if "List Number" in style:
        counters["n"] = counters.get("n", 0) + 1
        return f"{counters['n']}. {text}"
    counters["n"] = 0
    has_numbering = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    if "List" in style or has_numbering:
        return f"- {text}"
    return text


def _docx_table(table: Any, hidden: list[int]) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(filter(None, (_paragraph_text(p, hidden) for p in cell.paragraphs)))
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return ["\n".join(rows)] if rows else []


def read_docx(path: Path, settings: Settings) -> tuple[str | None, list[Page]]:
    """Read a .docx into one unnumbered page; return (core-properties title, pages)."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = _open(path, settings, docx.Document)
    hidden: list[int] = []
    counters: dict[str, int] = {}
    blocks: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            block = _docx_block(Paragraph(element, document), hidden, counters)
            blocks.extend([block] if block else [])
        elif tag == "tbl":
            blocks.extend(_docx_table(Table(element, document), hidden))
    title = (document.core_properties.title or "").strip() or _first_heading(blocks)
    flags = ("hidden-text-removed",) if hidden else ()
    return title, [Page(number=None, text="\n\n".join(blocks), flags=flags)]


def _first_heading(blocks: list[str]) -> str | None:
    return next((block.lstrip("#").strip() for block in blocks if block.startswith("#")), None)


def _shape_blocks(shape: Any, is_body: bool) -> list[str]:
    blocks: list[str] = []
    if shape.shape_type is not None and shape.shape_type == 6:  # group shape
        for child in shape.shapes:
            blocks.extend(_shape_blocks(child, False))
        return blocks
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [
            " | ".join(cell.text.strip() for cell in row.cells if cell.text.strip())
            for row in shape.table.rows
        ]
        return ["\n".join(row for row in rows if row)] if any(rows) else []
    if not getattr(shape, "has_text_frame", False) or not shape.has_text_frame:
        return blocks
    paragraphs = [p for p in shape.text_frame.paragraphs if p.text.strip()]
    as_list = is_body or len(paragraphs) > 1 or any(p.level > 0 for p in paragraphs)
    for paragraph in paragraphs:
        text = re.sub(r"\s+", " ", paragraph.text).strip()
        blocks.append(f"- {text}" if as_list else text)
    return blocks


def _slide_text(slide: Any) -> tuple[str | None, str]:
    title_shape = slide.shapes.title
    title = re.sub(r"\s+", " ", title_shape.text_frame.text).strip() if title_shape is not None else ""
    blocks = [f"# {title}"] if title else []
    shapes = sorted(slide.shapes, key=lambda shape: ((shape.top or 0), (shape.left or 0)))
    for shape in shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        is_body = shape.is_placeholder and shape.placeholder_format.type in (2, 7)  # BODY, OBJECT
        blocks.extend(_shape_blocks(shape, is_body))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        lines = [
            line.strip() for line in (notes.text if notes is not None else "").split("\n") if line.strip()
        ]
        if lines:
            blocks.append(NOTES_HEADING)
            blocks.extend(lines)
    return title or None, "\n\n".join(blocks)


def read_pptx(path: Path, settings: Settings) -> tuple[str | None, list[Page]]:
    """Read a .pptx into one page per slide (numbered from 1); return (title, pages)."""
    import pptx

    presentation = _open(path, settings, pptx.Presentation)
    pages = []
    first_title = None
    for number, slide in enumerate(presentation.slides, start=1):
        title, text = _slide_text(slide)
        first_title = first_title or title
        pages.append(Page(number=number, text=text))
    if not any(page.text for page in pages):
        raise CorruptDocumentError(f"{path.name}: no text on any slide")
    title = (presentation.core_properties.title or "").strip() or first_title
    return title, pages
