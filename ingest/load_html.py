"""HTML files: the main content as Markdown-like blocks, without page chrome or hidden elements."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.load_text import decode_text
from kysy.errors import CorruptDocumentError
from kysy.models import Page

logger = logging.getLogger(__name__)

DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(\.0+)?\s*(px|pt|em|rem|%)?\s*(;|$)|opacity\s*:\s*0(\.0+)?\s*(;|$)",
    re.IGNORECASE,
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_PARAGRAPHS = {"p", "blockquote", "pre", "dd", "dt", "figcaption", "caption", "address", "summary"}
_CONTAINERS = {"div", "section", "article", "main", "body", "details", "figure", "dl", "center", "html"}


def _is_hidden(tag: Any) -> bool:
    attrs = tag.attrs or {}
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))


def _text(tag: Any) -> str:
    return re.sub(r"\s+", " ", tag.get_text(" ")).strip()


def _list_blocks(tag: Any) -> list[str]:
    blocks = []
    for number, item in enumerate(tag.find_all("li", recursive=False), start=1):
        nested = [child.extract() for child in item.find_all(["ul", "ol"])]
        text = _text(item)
        if text:
            blocks.append(f"{number}. {text}" if tag.name == "ol" else f"- {text}")
        for child in nested:
            blocks.extend(_list_blocks(child))
    return blocks


def _table_blocks(tag: Any) -> list[str]:
    rows = []
    for row in tag.find_all("tr"):
        cells = [_text(cell) for cell in row.find_all(["td", "th"])]
        if any(cells):
            rows.append(" | ".join(cell for cell in cells if cell))
    return ["\n".join(rows)] if rows else []


_BLOCK_TAGS = _CONTAINERS | _PARAGRAPHS | set(_HEADINGS) | {"ul", "ol", "table", "li"}


def _leaf_blocks(tag: Any) -> list[str] | None:
    """The blocks of a heading, list, table or paragraph; None for a container, whose children are walked."""
    name = tag.name
    if name in _HEADINGS:
        text = _text(tag)
        return [f"{'#' * _HEADINGS[name]} {text}"] if text else []
    if name in ("ul", "ol"):
        return _list_blocks(tag)
    if name == "table":
        return _table_blocks(tag)
    if name in _PARAGRAPHS:
        text = _text(tag)
        return [text] if text else []
    return None


def _flush(inline: list[str], blocks: list[str]) -> None:
    """End an inline run: it becomes a paragraph unless blank."""
    text = re.sub(r"\s+", " ", "".join(inline)).strip()
    if text:
        blocks.append(text)
    inline.clear()


def _blocks(root: Any) -> list[str]:
    """Walk block elements in document order; inline runs inside containers become paragraphs.

    The walk keeps its own stack rather than recursing, so that a page nested thousands of elements
    deep parses as any other (Python's recursion limit is about a thousand frames).
    """
    leaf = _leaf_blocks(root)
    if leaf is not None:
        return leaf
    blocks: list[str] = []
    stack: list[tuple[Iterator[Any], list[str]]] = [(iter(root.children), [])]
    while stack:
        children, inline = stack[-1]
        child = next(children, None)
        if child is None:
            _flush(inline, blocks)
            stack.pop()
            continue
        name = getattr(child, "name", None)
        if name is None or name not in _BLOCK_TAGS:
            inline.append(child.get_text(" ") if name else str(child))
            continue
        _flush(inline, blocks)
        leaf = _leaf_blocks(child)
        if leaf is None:
            stack.append((iter(child.children), []))
        else:
            blocks.extend(leaf)
    return blocks


def read_html(path: Path) -> tuple[str | None, Page]:
    """Read an .html/.htm file into one unnumbered page; return (title, page)."""
    from bs4 import BeautifulSoup, Comment

    text, _ = decode_text(path.read_bytes(), path.name)
    soup = BeautifulSoup(text, "lxml")
    title_tag = soup.find("title")
    title = _text(title_tag) if title_tag else None
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    for tag in soup.find_all(DROP_TAGS):
        tag.decompose()
    hidden = [tag for tag in soup.find_all(True) if _is_hidden(tag)]
    hidden_text = any(_text(tag) for tag in hidden)
    for tag in hidden:
        if not tag.decomposed:
            tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks = _blocks(root)
    if not title:
        heading = soup.find("h1")
        title = _text(heading) if heading else None
    if not blocks:
        raise CorruptDocumentError(f"{path.name}: no text in the HTML")
    flags = ("hidden-text-removed",) if hidden_text else ()
    return title or None, Page(number=None, text="\n\n".join(blocks), flags=flags)
