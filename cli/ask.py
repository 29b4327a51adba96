"""``kysy ask``: one question answered on the terminal, or as the ``POST /api/chat`` JSON object."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from assistant.links import WORDS, Links, chunk_headings, public_base
from assistant.schemas import answer_to_json
from assistant.service import Assistant
from ingest.store import Snapshot
from kysy.models import Answer, Citation
from kysy.settings import Settings


def run_ask(settings: Settings, question: str, as_json: bool) -> int:
    """Answer ``question`` and print it; returns the exit status (0).

    Raises:
        IndexNotBuiltError: there is no index yet (the CLI prints the message and exits 1).
    """
    assistant = Assistant(settings)
    answer = assistant.ask(question)
    links = cli_links(settings, assistant.snapshot)
    if as_json:
        print(json.dumps(answer_to_json(answer, links=links), ensure_ascii=False))
    else:
        print_answer(answer, links, sys.stdout)
    return 0


def cli_links(settings: Settings, snapshot: Snapshot) -> Links:
    """Citation links for the terminal: under ``KYSY_PUBLIC_URL`` when set, else ``file://`` links to the
    indexed files (web sources keep their own address either way)."""

    def local(doc_id: str) -> str | None:
        path = snapshot.document_path(doc_id)
        return path.resolve().as_uri() if path is not None else None

    return Links(public_base(settings.public_url), snapshot.documents, chunk_headings(snapshot.chunk), local)


def print_answer(answer: Answer, links: Links, out: TextIO) -> None:
    """The answer text, then the numbered sources: ``[n] title, 2024, dia 9 — quote — url``."""
    out.write(answer.text.rstrip() + "\n")
    if not answer.citations:
        return
    out.write(f"\n{WORDS.get(answer.language, WORDS['fi'])[3]}:\n")
    for citation in answer.citations:
        out.write(source_line(citation, links, answer.language) + "\n")


def source_line(citation: Citation, links: Links, language: str = "fi") -> str:
    """One line of the source list, labelled as every interface labels it (``assistant/links.py``)."""
    line = ", ".join([f"[{citation.n}] {citation.title}", *links.year_and_label(citation, language)])
    if citation.quote:
        line += f" — {citation.quote}"
    url = links.url(citation)
    if url:
        line += f" — {url}"
    return line
