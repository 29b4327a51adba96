"""PDF files: one page per PDF page, parsed in a limited worker process.

Text is read with pypdf's visitor callbacks so each fragment carries its position, size, fill colour
and render mode. Invisible text (white, render mode 3/7, under 2 pt) is dropped and flagged; running
footers are dropped; lines are regrouped into blocks (slide title, subheadings, bullets, wrapped
sentences joined) so the page reads as Markdown-like text.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.isolate import run_isolated
from ingest.normalize import join_hyphenated
from kysy.errors import CorruptDocumentError, ParseLimitError
from kysy.models import Page
from kysy.settings import Settings

logger = logging.getLogger(__name__)

MIN_FONT_PT = 2.0
WHITE_LEVEL = 0.92
FOOTER_SHARE = 0.5
_NUMBERED_RE = re.compile(r"^\d{1,2}[.)]\s")
_INVISIBLE_MODES = (3, 7)


@dataclass
class _Line:
    text: str
    x: float
    top: float
    size: float


class _Collector:
    """Visitor state: fill colour and render mode through q/Q, and the visible fragments seen."""

    def __init__(self) -> None:
        self.hidden_fill = False
        self.mode = 0
        self.stack: list[tuple[bool, int]] = []
        self.pending: list[bool] = []
        self.lines: list[_Line] = []
        self.hidden = 0

    def before(self, op: bytes, args: list[Any], cm: Any, tm: Any) -> None:
        if op == b"q":
            self.stack.append((self.hidden_fill, self.mode))
        elif op == b"Q" and self.stack:
            self.hidden_fill, self.mode = self.stack.pop()
        elif op in (b"g", b"rg", b"k", b"sc", b"scn"):
            self.hidden_fill = _is_white(op, args)
        elif op == b"cs":
            self.hidden_fill = False
        elif op == b"Tr" and args:
            self.mode = int(args[0])
        elif op in (b"Tj", b"TJ", b"'", b'"'):
            self.pending.append(self.hidden_fill or self.mode in _INVISIBLE_MODES)

    def text(self, text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        pending, self.pending = self.pending, []
        text = text.replace("\n", " ")
        if not text.strip():
            return
        a, b, c, d, e, f = _multiply(tm, cm)
        size = abs(font_size) * math.hypot(c, d)
        if any(pending) or size < MIN_FONT_PT:
            self.hidden += 1
            return
        x, top = e, -f
        last = self.lines[-1] if self.lines else None
        if last and abs(top - last.top) < 0.4 * max(size, last.size) and x >= last.x:
            last.text += text
            last.size = max(last.size, size)
        else:
            self.lines.append(_Line(text, x, top, size))


def _multiply(m: list[float], n: list[float]) -> tuple[float, ...]:
    return (
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    )


def _is_white(op: bytes, args: list[Any]) -> bool:
    try:
        values = [float(value) for value in args]
    except (TypeError, ValueError):
        return False  # a pattern or named colour: assume visible
    if len(values) in (1, 3):
        return all(value >= WHITE_LEVEL for value in values)
    if len(values) == 4:
        return all(value <= 1 - WHITE_LEVEL for value in values)
    return False


def _page_lines(page: Any) -> tuple[list[_Line], int]:
    collector = _Collector()
    page.extract_text(visitor_operand_before=collector.before, visitor_text=collector.text)
    for line in collector.lines:
        line.text = re.sub(r"\s+", " ", line.text).strip()
    return [line for line in collector.lines if line.text], collector.hidden


def _footer_keys(pages: list[list[_Line]]) -> set[str]:
    """Lines that repeat (digits ignored) at the top or bottom of at least half of the pages."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        if lines:
            ordered = sorted(lines, key=lambda line: line.top)
            counts.update({_footer_key(ordered[0]), _footer_key(ordered[-1])})
    return {key for key, count in counts.items() if count >= FOOTER_SHARE * len(pages)}


def _footer_key(line: _Line) -> str:
    return re.sub(r"\d+", "#", line.text).casefold()


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        if text.endswith("-") and text[-2:-1].isalpha():
            text = join_hyphenated(text, line)
        elif text.endswith("/"):
            text += line
        else:
            text += " " + line
    return text


def _column_bases(lines: list[_Line]) -> list[float]:
    """The left edge of the column each line belongs to (a new column starts when text goes back up)."""
    bases: list[float] = []
    start = 0
    for index in range(1, len(lines) + 1):
        if index == len(lines) or lines[index].top < lines[index - 1].top - lines[index].size:
            left = min(line.x for line in lines[start:index])
            bases.extend([left] * (index - start))
            start = index
    return bases


def _continues(prev: _Line, line: _Line, widest: int) -> bool:
    """True when ``line`` is the wrapped continuation of ``prev``.

    Same size and the next line down; a short line followed by a capitalised one is a new item
    (slide bullets); a lowercase start after an unfinished line continues even across columns.
    """
    if abs(line.size - prev.size) > 0.15 * prev.size:
        return False
    gap = line.top - prev.top
    wrapped = 0 < gap <= 1.3 * prev.size
    unfinished = not prev.text.endswith((".", "!", "?", ":"))
    if unfinished and line.text[:1].islower() and (wrapped or gap < 0):
        return True
    if not wrapped:
        return False
    # A lone word is a lead-in ("Rahoittajina") that reads with what follows.
    short = len(prev.text) < 0.55 * widest and not prev.text.endswith((",", "-", "/")) and " " in prev.text
    return not (short and line.text[:1].isupper())


def _blocks(lines: list[_Line]) -> list[str]:
    """Regroup a page's lines into Markdown-like blocks; the first line(s) become the ``#`` title."""
    if not lines:
        return []
    body_size = Counter(round(line.size, 1) for line in lines for _ in line.text).most_common(1)[0][0]
    bases = _column_bases(lines)
    widest = {
        base: max(len(line.text) for line, b in zip(lines, bases, strict=True) if b == base) for base in bases
    }
    groups: list[list[int]] = [[0]]
    for index in range(1, len(lines)):
        if _continues(lines[index - 1], lines[index], widest[bases[index - 1]]):
            groups[-1].append(index)
        else:
            groups.append([index])
    blocks = []
    for number, group in enumerate(groups):
        first = lines[group[0]]
        text = _join([lines[i].text for i in group])
        if number == 0:
            blocks.append(f"# {text}")
        elif first.size > 1.15 * body_size and len(text.split()) <= 12:
            blocks.append(f"## {text}")
        elif _NUMBERED_RE.match(text):
            blocks.append(text)
        elif first.x > bases[group[0]] + 0.5 * first.size:
            blocks.append(f"- {text}")
        else:
            blocks.append(text)
    return blocks


def extract_pdf_pages(path: str, max_pages: int) -> tuple[str | None, list[Page]]:
    """Parse a PDF into raw pages (run inside the isolated worker); return (metadata title, pages).

    Raises:
        CorruptDocumentError: not a readable PDF, encrypted, or no text on any page.
        ParseLimitError: more than ``max_pages`` pages.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    name = Path(path).name
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not _try_empty_password(reader):
            raise CorruptDocumentError(f"{name}: encrypted PDF (password protected)")
        count = len(reader.pages)
        if count > max_pages:
            raise ParseLimitError(f"{name}: {count} pages, more than max_pages={max_pages}")
        extracted = [_page_lines(page) for page in reader.pages]
        title = _metadata_title(reader)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise CorruptDocumentError(f"{name}: not a readable PDF: {exc}") from exc
    if count == 0 or not any(lines for lines, _ in extracted):
        raise CorruptDocumentError(f"{name}: no extractable text (scanned images?)")
    footers = _footer_keys([lines for lines, _ in extracted])
    pages = []
    for number, (lines, hidden) in enumerate(extracted, start=1):
        kept = [line for line in lines if _footer_key(line) not in footers]
        flags = ("hidden-text-removed",) if hidden else ()
        pages.append(Page(number=number, text="\n\n".join(_blocks(kept)), flags=flags))
    return title, pages


def _try_empty_password(reader: Any) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:  # missing crypto backend or a broken encryption dictionary
        return False


def _metadata_title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # metadata is optional; a broken info dictionary must not fail the file
        return None
    return str(title).strip() or None if title else None


def read_pdf(path: Path, settings: Settings) -> tuple[str | None, list[Page]]:
    """Read a PDF in a worker process limited by ``settings.parse_timeout_s`` and ``parse_memory_mb``."""
    title, pages = run_isolated(
        extract_pdf_pages,
        str(path),
        settings.max_pages,
        timeout_s=settings.parse_timeout_s,
        memory_mb=settings.parse_memory_mb,
    )
    return title, pages
