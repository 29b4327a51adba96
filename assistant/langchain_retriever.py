"""Kysy's hybrid retriever as a LangChain ``BaseRetriever``, for use inside LangChain chains."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.links import Links, public_base
from assistant.retrieve import check_top_k
from kysy.models import Citation


class KysyRetriever(BaseRetriever):
    """Hybrid (or dense / keyword) search over an Assistant's index, as LangChain Documents.

    Each document's ``url`` is absolute and opens at the passage, as a citation's does
    (``assistant/links.py``): under ``KYSY_PUBLIC_URL``, else a ``file://`` link to the indexed file.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any
    top_k: int = 5
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        retriever = self.assistant.retriever
        hits = retriever.search(query, check_top_k(self.top_k), self.mode)
        snapshot = retriever.snapshot

        def local(doc_id: str) -> str | None:
            path = snapshot.document_path(doc_id)
            return path.resolve().as_uri() if path is not None else None

        links = Links(public_base(self.assistant.settings.public_url), snapshot.documents, local_file=local)
        cited = [
            Citation(hit.rank, hit.chunk.id, hit.chunk.doc_id, hit.chunk.file, hit.chunk.title, hit.chunk.page,
                     _first_sentence(hit.chunk.text), None)
            for hit in hits
        ]
        return [
            Document(
                page_content=hit.chunk.text,
                metadata={
                    "file": hit.chunk.file,
                    "title": hit.chunk.title,
                    "page": hit.chunk.page,
                    "label": links.label(citation) or "",
                    "url": links.url(citation) or "",
                    "heading": hit.chunk.heading,
                    "score": hit.score,
                    "rank": hit.rank,
                    "retriever": hit.retriever,
                    "chunk_id": hit.chunk.id,
                },
            )
            for hit, citation in zip(hits, cited, strict=True)
        ]


def _first_sentence(text: str) -> str:
    """The start of a passage, for the text fragment that scrolls the page to it."""
    return re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0][:300]


def format_docs(documents: list[Document]) -> str:
    """Number documents as sources for a prompt: ``[1] title, dia 3: text``."""
    lines = []
    for n, doc in enumerate(documents, start=1):
        label = doc.metadata.get("label") or (f"sivu {doc.metadata['page']}" if doc.metadata.get("page") else "")
        lines.append(f"[{n}] {doc.metadata['title']}{', ' + label if label else ''}: {doc.page_content}")
    return "\n\n".join(lines)
