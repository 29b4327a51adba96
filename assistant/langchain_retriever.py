"""Kysy's hybrid retriever as a LangChain ``BaseRetriever``, for use inside LangChain chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.retrieve import check_top_k


class KysyRetriever(BaseRetriever):
    """Hybrid (or dense / keyword) search over an Assistant's index, as LangChain Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any
    top_k: int = 5
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        retriever = self.assistant.retriever
        hits = retriever.search(query, check_top_k(self.top_k), self.mode)
        return [
            Document(
                page_content=hit.chunk.text,
                metadata={
                    "file": hit.chunk.file,
                    "title": hit.chunk.title,
                    "page": hit.chunk.page,
                    "heading": hit.chunk.heading,
                    "score": hit.score,
                    "rank": hit.rank,
                    "retriever": hit.retriever,
                    "chunk_id": hit.chunk.id,
                },
            )
            for hit in hits
        ]


def format_docs(documents: list[Document]) -> str:
    """Number documents as sources for a prompt: ``[1] title, s. 3: text``."""
    lines = []
    for n, doc in enumerate(documents, start=1):
        page = f", s. {doc.metadata['page']}" if doc.metadata.get("page") else ""
        lines.append(f"[{n}] {doc.metadata['title']}{page}: {doc.page_content}")
    return "\n\n".join(lines)
