"""Document -> Chunk: structure-aware packing of page blocks, and the quotable sentences of a chunk.

A chunk never crosses a page. Its text is always the exact slice ``page.text[start:end]``, so a
quote can be located in the page it cites. The heading path goes into ``Chunk.heading`` (joined with
`` > ``) and a chunk that opens a section also holds its heading lines; the document's own title line (the first ``#`` line of an unpaged text) is
left out of the path because ``Chunk.title`` already carries it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kysy.models import Chunk, Document, Page, Sentence, content_hash

_HEADING_RE = re.compile(r"^(#{1,6}) +(.*\S)\s*$")
_LIST_RE = re.compile(r"^(?:- |\d{1,3}[.)] )")
# A heading of at least this many words is quoted like a sentence (see ``split_sentences``).
QUOTABLE_HEADING_WORDS = 5
_WORD_RE = re.compile(r"\S*[^\W_]\S*")
_ABBREVIATIONS = frozenset(
    [
        "esim",
        "mm",
        "ns",
        "n",
        "s",
        "ks",
        "jne",
        "ym",
        "yms",
        "ko",
        "klo",
        "p",
        "puh",
        "sis",
        "krt",
        "vrt",
        "tms",
        "ts",
        "huom",
        "nk",
        "nro",
        "milj",
        "mrd",
        "t",
        "os",
        "prof",
        "dos",
        "v",
        "k",
        "vs",
        "ao",
        "eg",
        "ie",
        "etc",
        "dr",
        "mr",
        "mrs",
        "st",
        "jr",
    ]
)
_BOUNDARY_RE = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+[\"”“'(\[–—-]?\s*[A-ZÅÄÖ0-9])")


@dataclass(frozen=True)
class _Unit:
    """A packable piece of a page: a paragraph (or part of one), a list item or a heading-only slide."""

    start: int
    end: int
    path: str
    kind: str  # "para" | "item" | "heading"
    new_section: bool


def count_words(text: str) -> int:
    """Count the words of ``text`` (tokens holding a letter or digit; Markdown markers are not words)."""
    return len(_WORD_RE.findall(text))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentence spans, one line at most each, skipping abbreviations and dates."""
    end = len(text) if end is None else end
    spans = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        piece_start = 0
        body = line.group(0)
        for match in _BOUNDARY_RE.finditer(body):
            if _is_false_boundary(body, match.start()):
                continue
            spans.append((line_start + piece_start, line_start + match.end()))
            piece_start = match.end()
        spans.append((line_start + piece_start, line_start + len(body)))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def _is_false_boundary(line: str, dot: int) -> bool:
    """True when the full stop at ``dot`` ends an abbreviation or a date/ordinal, not a sentence."""
    if line[dot] != ".":
        return False
    before = re.split(r"\s", line[:dot])
    token = before[-1].lstrip("(\"'“”")
    if token.casefold().rstrip(".").rsplit("-", 1)[-1] in _ABBREVIATIONS:  # "esim.", "Trinity-St."
        return True
    # A capital letter alone after a capitalised name is an initial: "William E. Simon", "Liisa K. Jurmu".
    if len(token) == 1 and token.isupper() and len(before) > 1 and before[-2][:1].isupper():
        return True
    # "29.9." and ordinals "5." are not sentence ends; "2023." and "1.1.2023." are.
    return bool(re.fullmatch(r"(\d{1,2}\.)*\d{1,2}", token))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _page_units(page: Page, doc_title: str, max_words: int) -> list[_Unit]:
    """Blocks of one page with their heading paths; over-long paragraphs are split at sentences."""
    units: list[_Unit] = []
    headings: list[tuple[int, str]] = []
    new_section = False
    section_start: int | None = None  # where the heading lines of the next section begin
    headings_only: list[tuple[int, int]] = []
    blocks = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", page.text)]
    for index, (start, end) in enumerate(blocks):
        lines = [(start + m.start(), start + m.end()) for m in re.finditer(r"[^\n]+", page.text[start:end])]
        for line_start, line_end in lines:
            line = page.text[line_start:line_end]
            heading = _HEADING_RE.match(line)
            if heading:
                level, text = len(heading.group(1)), heading.group(2)
                headings_only.append((line_start + heading.start(2), line_start + heading.end(2)))
                is_title = (
                    index == 0 and page.number is None and level == 1
                ) or text.casefold() == doc_title.casefold()
                headings = [h for h in headings if h[0] < level] + ([] if is_title else [(level, text)])
                new_section = True
                section_start = line_start if section_start is None else section_start
                continue
            path = " > ".join(text for _, text in headings)
            kind = "item" if _LIST_RE.match(line) else "para"
            # A section's first unit carries its heading lines, so a chunk reads like the slide or
            # section it came from (the slide title is part of what a citation points to).
            unit_start = section_start if new_section and section_start is not None else line_start
            units.extend(_split_long(page.text, unit_start, line_end, path, kind, new_section, max_words))
            new_section = False
            section_start = None
    if not units and headings_only:
        start, end = headings_only[0][0], headings_only[-1][1]
        path = " > ".join(text for _, text in headings)
        units.append(_Unit(start, end, path or page.text[start:end], "heading", True))
    return units


def _split_long(
    text: str, start: int, end: int, path: str, kind: str, new_section: bool, max_words: int
) -> list[_Unit]:
    if count_words(text[start:end]) <= max_words:
        return [_Unit(start, end, path, kind, new_section)]
    pieces: list[tuple[int, int]] = []
    for a, b in sentence_spans(text, start, end):
        for piece in _split_words(text, a, b, max_words):
            if pieces and count_words(text[pieces[-1][0] : piece[1]]) <= max_words:
                pieces[-1] = (pieces[-1][0], piece[1])
            else:
                pieces.append(piece)
    return [_Unit(a, b, path, kind, new_section and i == 0) for i, (a, b) in enumerate(pieces)]


def _split_words(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """A single sentence longer than ``max_words`` is cut at word boundaries (last resort)."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    if count_words(text[start:end]) <= max_words:
        return [(start, end)]
    return [
        (words[i][0], words[min(i + max_words, len(words)) - 1][1]) for i in range(0, len(words), max_words)
    ]


def _overlap_start(text: str, units: list[_Unit], overlap_words: int) -> int | None:
    """Start offset of the trailing whole sentences/items of ``units`` that fit in ``overlap_words``."""
    last = units[-1]
    spans = [(last.start, last.end)] if last.kind == "item" else sentence_spans(text, last.start, last.end)
    chosen = None
    for a, _end in reversed(spans):
        if count_words(text[a : last.end]) > overlap_words:
            break
        chosen = a
    if chosen is not None and chosen == last.start and len(units) == 1:
        return None  # the whole previous chunk would repeat
    return chosen


def _pack(
    text: str, units: list[_Unit], target: int, max_words: int, min_words: int, overlap: int
) -> list[tuple[int, int, str]]:
    """Group units into (start, end, heading path) spans."""
    spans: list[tuple[int, int, str]] = []
    current: list[_Unit] = []
    start = units[0].start if units else 0
    for unit in units:
        if current:
            size = count_words(text[start : current[-1].end])
            grown = count_words(text[start : unit.end])
            lead_in = (
                current[-1].kind == "para"
                and unit.kind == "item"
                and text[current[-1].start : current[-1].end].endswith(":")
            )
            flush = (
                grown > max_words
                or (unit.new_section and size >= min_words)
                or (size >= target and not lead_in)
            )
            if flush:
                carry = [current.pop()] if lead_in and len(current) > 1 and not unit.new_section else []
                spans.append((start, current[-1].end, current[0].path))
                same_section = not unit.new_section and not carry and unit.path == current[-1].path
                new_start = _overlap_start(text, current, overlap) if same_section and overlap else None
                current = carry
                start = carry[0].start if carry else unit.start
                if new_start is not None and count_words(text[new_start : unit.end]) <= max_words:
                    start = new_start
        current.append(unit)
    if current:
        spans.append((start, current[-1].end, current[0].path))
    return spans


def chunk_document(
    doc: Document, *, target_words: int, max_words: int, min_words: int, overlap_words: int
) -> list[Chunk]:
    """Split a document into chunks of about ``target_words`` words (never more than ``max_words``).

    Chunks follow headings and never cross a page; consecutive chunks of one section share up to
    ``overlap_words`` words of whole trailing sentences or list items.
    """
    if not 1 <= min_words <= target_words <= max_words:
        raise ValueError(
            f"need 1 <= min_words <= target_words <= max_words, got {min_words}, {target_words}, {max_words}"
        )
    chunks: list[Chunk] = []
    for page in doc.pages:
        units = _page_units(page, doc.title, max_words)
        for start, end, path in _pack(page.text, units, target_words, max_words, min_words, overlap_words):
            text = page.text[start:end]
            digest = content_hash(text)
            key = f"{doc.file}\x00{page.number}\x00{len(chunks)}\x00{digest}"
            chunks.append(
                Chunk(
                    id=hashlib.sha256(key.encode("utf-8")).hexdigest()[:24],
                    doc_id=doc.id,
                    file=doc.file,
                    title=doc.title,
                    text=text,
                    page=page.number,
                    heading=path,
                    start=start,
                    end=end,
                    content_hash=digest,
                    ord=len(chunks),
                )
            )
    return chunks


def split_sentences(chunk: Chunk) -> list[Sentence]:
    """The quotable units of a chunk: sentences of paragraphs, whole list items, and headings that
    make a statement.

    Offsets are relative to ``chunk.text``. A heading line is quotable when it has at least
    ``QUOTABLE_HEADING_WORDS`` words: news subheadings and slide titles often state the point
    ("Yhteistyö ei ole monilla alueilla vielä strategisella tasolla"); short ones ("Tausta") only
    label what follows. A chunk that is nothing but a heading is quoted whole.
    """
    text = chunk.text
    spans: list[tuple[int, int, str]] = []
    for line in re.finditer(r"[^\n]+", text):
        body = line.group(0)
        heading = _HEADING_RE.match(body)
        if heading:
            if len(heading.group(2).split()) >= QUOTABLE_HEADING_WORDS:
                spans.append((*_trim(text, line.start() + heading.start(2), line.end()), "heading"))
            continue
        if _LIST_RE.match(body):
            offset = 2 if body.startswith("- ") else 0
            spans.append((*_trim(text, line.start() + offset, line.end()), "item"))
        else:
            spans.extend((a, b, "sentence") for a, b in sentence_spans(text, line.start(), line.end()))
    if not spans and text.strip():
        spans.append((*_trim(text, 0, len(text)), "sentence"))
    return [
        Sentence(
            chunk_id=chunk.id, ord=n, text=text[a:b], start=a, end=b, is_list_item=kind == "item",
            heading=chunk.heading, is_heading=kind == "heading",
        )
        for n, (a, b, kind) in enumerate(spans)
        if a < b
    ]
