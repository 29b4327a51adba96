"""The LangChain retriever inside a runnable chain over the real corpus index."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda

from assistant.langchain_retriever import KysyRetriever, format_docs
from assistant.service import Assistant
from kysy.settings import Settings


def test_the_retriever_runs_in_a_chain_and_cites_the_slide_page(corpus_index: Settings) -> None:
    retriever = KysyRetriever(assistant=Assistant(corpus_index), top_k=3)
    chain = retriever | RunnableLambda(format_docs)
    text = chain.invoke("Mikä on Etelä-Karjalan väestöpohja?")
    assert text.startswith("[1] ") and "127 000" in text.split("[2]")[0]
    docs = retriever.invoke("Mikä on Etelä-Karjalan väestöpohja?")
    assert len(docs) == 3
    first = docs[0].metadata
    assert first["page"] == 9 and first["file"].endswith(".pdf") and first["retriever"] == "dense+keyword"
    assert first["score"] >= docs[1].metadata["score"] and first["chunk_id"]


def test_keyword_mode_finds_nothing_for_an_unknown_word(corpus_index: Settings) -> None:
    retriever = KysyRetriever(assistant=Assistant(corpus_index), top_k=3, mode="keyword")
    assert retriever.invoke("xyzzyplugh") == []
