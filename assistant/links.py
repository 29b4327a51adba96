"""Where a citation points and what it is called: decided once, on the server, for every client.

- ``label``: "sivu 3" for a page, "dia 3" for a slide, "kohta: <heading>" for a part of an unpaged
  text (the heading of the section that holds the quote: ``section_heading``), in the answer's language.
- ``url``: always absolute and http(s). A web source links to its own page with a text fragment
  of each line the answer quotes from it (``#:~:text=start,end&text=...``) so the browser scrolls to the
  passage and marks every quoted line; a PDF opens at
  ``#page=N``; a document without a web address links to this service's copy of the file under
  ``KYSY_PUBLIC_URL`` (or, for an HTTP request without it, the address the request came to).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from kysy.models import Chunk, Citation, DocumentInfo, web_address

# A Markdown heading line of a chunk's text ("## Yhdyspintafoorumit").
_HEADING_LINE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)

SLIDE_KINDS = frozenset({"diaesitys", "esitys", "slides", "presentation"})
# page, slide, part of an unpaged text; and the heading of a source list
WORDS = {
    "fi": ("sivu", "dia", "kohta", "Lähteet"),
    "sv": ("sida", "bild", "avsnitt", "Källor"),
    "en": ("page", "slide", "section", "Sources"),
}
# A quote longer than this many words is pointed at by its first and last words (textStart,textEnd).
FRAGMENT_WORDS = 5
# At most this many of a source's quoted lines are marked by its link (an answer quotes a few).
FRAGMENT_QUOTES = 8
_FRAGMENT_SUFFIXES = (".txt", ".md", ".html", ".htm")


def text_fragment(*quote_texts: str) -> str:
    """``#:~:text=`` for each of ``quote_texts`` (``&text=`` between them; the first ``FRAGMENT_QUOTES``, once
    each): the whole quote when short, else its first and last words."""
    directives = []
    for quote_text in dict.fromkeys(quote_texts):
        words = re.sub(r"^[-–—•]\s*", "", quote_text.strip()).split()
        if not words:
            continue
        if len(words) <= 2 * FRAGMENT_WORDS:
            parts = [" ".join(words)]
        else:
            parts = [" ".join(words[:FRAGMENT_WORDS]), " ".join(words[-FRAGMENT_WORDS:])]
        # Inside a fragment "-", "," and "&" have meanings of their own: percent-encode them too.
        directives.append(",".join(quote(part, safe="").replace("-", "%2D") for part in parts))
    return "#:~:text=" + "&text=".join(directives[:FRAGMENT_QUOTES]) if directives else ""


def is_slides(info: DocumentInfo | None, file: str) -> bool:
    """Whether a document's pages are slides."""
    return (info is not None and info.kind in SLIDE_KINDS) or file.lower().endswith(".pptx")


@dataclass(frozen=True)
class Links:
    """Builds citation addresses and labels over one index's documents.

    ``base`` is the absolute address of this service (``https://kysy.example.fi``), or "" when
    there is none (then the service's own files are linked as ``local_file(doc_id)`` gives, if at all).
    """

    base: str
    documents: Mapping[str, DocumentInfo]
    heading_of: Callable[[Citation], str] = lambda citation: ""
    local_file: Callable[[str], str | None] = lambda doc_id: None

    def url(self, citation: Citation) -> str | None:
        """The absolute http(s) (or, without a base, local) address of ``citation``."""
        info = self.documents.get(citation.doc_id)
        is_pdf = citation.file.lower().endswith(".pdf")
        web = web_address(info.url if info else None)
        quoted = citation.quotes or (citation.quote,)  # every line the answer quotes from the source
        if web:
            if is_pdf:
                return f"{web}#page={citation.page}" if citation.page else web
            return web.split("#", 1)[0] + text_fragment(*quoted)
        if self.base:
            url = f"{self.base}/api/documents/{citation.doc_id}/file"
        else:
            url = self.local_file(citation.doc_id) or ""
            if not url:
                return None
        if citation.page and is_pdf:
            return f"{url}#page={citation.page}"
        if PurePosixPath(citation.file.lower()).suffix in _FRAGMENT_SUFFIXES:
            return url + text_fragment(*quoted)
        return url

    def label(self, citation: Citation, language: str = "fi") -> str | None:
        """"sivu 3", "dia 3" or "kohta: <heading>" (in ``language``), or None for an unpaged text without a heading."""
        page_word, slide_word, part_word, _ = WORDS.get(language, WORDS["fi"])
        if citation.page is not None:
            word = slide_word if is_slides(self.documents.get(citation.doc_id), citation.file) else page_word
            return f"{word} {citation.page}"
        heading = self.heading_of(citation).strip()
        return f"{part_word}: {heading}" if heading else None

    def year(self, citation: Citation) -> int | None:
        """The source's year, when the catalog gives one."""
        info = self.documents.get(citation.doc_id)
        return info.year if info else None

    def year_and_label(self, citation: Citation, language: str = "fi") -> list[str]:
        """The year and the label a source list shows after the title, those that exist."""
        year, label = self.year(citation), self.label(citation, language)
        return [text for text in (str(year) if year else None, label) if text]


def public_base(configured: str, request_base: str = "") -> str:
    """The service's absolute address: ``KYSY_PUBLIC_URL`` when set, else the one a request came to."""
    base = web_address(configured) or web_address(request_base) or ""
    return base.rstrip("/")


def source_list(citations: list[Citation], links: Links, language: str) -> str:
    """The numbered sources as Markdown, for clients that show only the message text:
    ``1. [Title](https://...), 2024, dia 9``."""
    if not citations:
        return ""
    heading = WORDS.get(language, WORDS["fi"])[3]
    lines = [f"**{heading}**", ""]
    for citation in citations:
        title = _markdown_text(citation.title or citation.file)
        url = links.url(citation)
        target = f"<{url}>" if url and re.search(r"[\s()<>]", url) else url
        parts = [f"[{title}]({target})" if url else title, *links.year_and_label(citation, language)]
        lines.append(f"{citation.n}. " + ", ".join(parts))
    return "\n".join(lines)


def _markdown_text(text: str) -> str:
    """``text`` with the characters that would make Markdown of it escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def section_heading(chunk: Chunk | None, quote: str) -> str:
    """The heading of the section of ``chunk`` that holds ``quote``. A chunk may hold several short sections
    and its own heading is its first section's: the quote's is the last heading line before it in the chunk's
    text, unless that line opens the chunk (whose heading path then says more); else the chunk's heading."""
    if chunk is None:
        return ""
    at = chunk.text.find(quote) if quote else -1
    if at > 0:
        lines = list(_HEADING_LINE.finditer(chunk.text, 0, at))
        if lines and lines[-1].start() > 0:
            return lines[-1].group(1).strip()
    return chunk.heading


def chunk_headings(chunk: Callable[[str], Chunk | None]) -> Callable[[Citation], str]:
    """``Links.heading_of`` over an index: ``chunk`` finds a chunk by its id (``Snapshot.chunk``)."""
    return lambda citation: section_heading(chunk(citation.chunk_id), citation.quote)
