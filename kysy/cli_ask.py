"""``kysy ask``: one question answered on the terminal, or as the ``POST /api/chat`` JSON object."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import TextIO

from assistant.schemas import answer_to_json
from assistant.service import Assistant
from ingest.store import Snapshot
from kysy.models import Answer, Citation, DocumentInfo
from kysy.settings import Settings

# Words of the source list by answer language: heading, page, slide.
_WORDS = {
    "fi": ("Lähteet", "sivu", "dia"),
    "sv": ("Källor", "sida", "bild"),
    "en": ("Sources", "page", "slide"),
}
_SLIDE_KINDS = {"diaesitys", "esitys", "slides", "presentation"}


def run_ask(settings: Settings, question: str, as_json: bool) -> int:
    """Answer ``question`` and print it; returns the exit status (0).

    Raises:
        IndexNotBuiltError: there is no index yet (the CLI prints the message and exits 1).
    """
    assistant = Assistant(settings)
    answer = assistant.ask(question)
    if as_json:
        print(json.dumps(answer_to_json(answer), ensure_ascii=False))
    else:
        print_answer(answer, assistant.snapshot, sys.stdout)
    return 0


def print_answer(answer: Answer, snapshot: Snapshot, out: TextIO) -> None:
    """The answer text, then the numbered sources: ``[n] title, sivu N — quote — url``.

    A source without a web address gets a ``file://`` link to the indexed file instead.
    """
    out.write(answer.text.rstrip() + "\n")
    if not answer.citations:
        return
    heading = _WORDS.get(answer.language, _WORDS["fi"])[0]
    out.write(f"\n{heading}:\n")
    for citation in answer.citations:
        info = snapshot.documents.get(citation.doc_id)
        if not citation.url:
            path = snapshot.document_path(citation.doc_id)
            if path is not None:
                local = path.resolve().as_uri() + (f"#page={citation.page}" if citation.page is not None else "")
                citation = replace(citation, url=local)
        out.write(source_line(citation, info, answer.language) + "\n")


def source_line(citation: Citation, info: DocumentInfo | None, language: str = "fi") -> str:
    """One line of the source list (slides are ``dia N``, other pages ``sivu N``)."""
    _, page_word, slide_word = _WORDS.get(language, _WORDS["fi"])
    line = f"[{citation.n}] {citation.title}"
    if citation.page is not None:
        is_slides = info is not None and (info.kind in _SLIDE_KINDS or info.file.lower().endswith(".pptx"))
        line += f", {slide_word if is_slides else page_word} {citation.page}"
    if citation.quote:
        line += f" — {citation.quote}"
    if citation.url:
        line += f" — {citation.url}"
    return line
