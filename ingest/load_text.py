"""Plain text and Markdown files: decoding and recovering the structure of web texts.

The corpus web texts are copied from web pages: the first line is the title, a short line standing
alone before a paragraph is a subheading, and runs of short lines are lists.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from pathlib import Path

from ingest.normalize import invisible_chars, normalize_text
from kysy.errors import CorruptDocumentError
from kysy.models import Page

logger = logging.getLogger(__name__)

HEADING_MAX_WORDS = 12
LIST_LINE_MAX_WORDS = 20
_SENTENCE_END = (".", "!", "?")
_QUOTE_DASH_RE = re.compile(r"^[-–—]\s*(?=\S)")
_LIST_RE = re.compile(r"^(- |\d{1,3}[.)] )")


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    controls = sum(
        1 for ch in text if unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch not in "\n\r\t\f"
    )
    return "\x00" in text or controls / len(text) > 0.02


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """Decode text bytes: UTF-8 (BOM ok), UTF-16 with a BOM, else plausible cp1252.

    Returns:
        The text and warnings (``decoded as cp1252``).

    Raises:
        CorruptDocumentError: binary data or bytes that decode to nothing readable.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise CorruptDocumentError(f"{name}: not a text file (broken UTF-16: {exc.reason})") from exc
    if b"\x00" in data:
        raise CorruptDocumentError(f"{name}: not a text file (binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise CorruptDocumentError(f"{name}: not a text file (undecodable bytes)") from exc
        if _looks_binary(text):
            raise CorruptDocumentError(f"{name}: not a text file (binary data)") from None
        logger.warning("%s: not UTF-8, decoded as cp1252", name)
        return text, ["decoded as cp1252"]
    if _looks_binary(text):
        raise CorruptDocumentError(f"{name}: not a text file (binary data)")
    return text, []


def _is_heading_line(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= HEADING_MAX_WORDS
        and not line.endswith(_SENTENCE_END + (":",))
        and not _LIST_RE.match(line)
    )


def _is_paragraph(group: list[str]) -> bool:
    text = " ".join(group)
    return len(text.split()) > HEADING_MAX_WORDS or text.endswith(_SENTENCE_END)


def _render_group(group: list[str]) -> list[str]:
    """One blank-line separated group of lines -> blocks."""
    if len(group) == 1:
        line = group[0]
        if _QUOTE_DASH_RE.match(line) and len(line.split()) > HEADING_MAX_WORDS:
            # A dash before a long quote is a Finnish quotation dash, not a list bullet.
            return ["— " + _QUOTE_DASH_RE.sub("", line)]
        return [line]
    if all(_LIST_RE.match(line) or len(line.split()) <= LIST_LINE_MAX_WORDS for line in group):
        return ["\n".join(line if _LIST_RE.match(line) else f"- {line}" for line in group)]
    return group


def structure_web_text(text: str) -> tuple[str | None, str]:
    """Turn a normalised web text into Markdown-like blocks; return (title, page text)."""
    groups = [[line for line in chunk.split("\n") if line] for chunk in text.split("\n\n")]
    groups = [group for group in groups if group]
    if not groups:
        return None, ""
    title = groups[0][0].lstrip("#").strip()
    rest = [groups[0][1:]] + groups[1:] if len(groups[0]) > 1 else groups[1:]
    rest = [group for group in rest if group]
    blocks = [f"# {title}"]
    for index, group in enumerate(rest):
        following = rest[index + 1] if index + 1 < len(rest) else None
        if len(group) == 1 and _is_heading_line(group[0]) and following and _is_paragraph(following):
            blocks.append(f"## {group[0]}")
        else:
            blocks.extend(_render_group(group))
    return title, "\n\n".join(blocks)


def structure_markdown(text: str) -> tuple[str | None, str]:
    """Markdown is already structured: unify list markers and find the title; return (title, text)."""
    text = re.sub(r"^[*+] ", "- ", text, flags=re.MULTILINE)
    match = re.search(r"^#{1,6} +(.+)$", text, flags=re.MULTILINE)
    if match:
        return match.group(1).strip(), text
    first = next((line for line in text.split("\n") if line.strip()), "")
    return (first.strip() or None), text


def read_text_file(path: Path, *, markdown: bool) -> tuple[str | None, list[Page], list[str]]:
    """Read a .txt or .md file into one unnumbered page; return (title, pages, warnings).

    Raises:
        CorruptDocumentError: empty, whitespace-only or not a text file.
    """
    text, warnings = decode_text(path.read_bytes(), path.name)
    if not text.strip():
        raise CorruptDocumentError(f"{path.name}: empty file")
    # Normalise first so structure is found on clean lines; the loader normalises again (idempotent).
    clean = normalize_text(text)
    title, body = structure_markdown(clean) if markdown else structure_web_text(clean)
    # The raw text is normalised here, so the smuggling flag has to be set here too.
    flags = ("invisible-chars-removed",) if invisible_chars(text) else ()
    return title, [Page(number=None, text=body, flags=flags)], warnings
