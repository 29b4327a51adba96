"""The extractive answerer: quote the sentences of the best chunks that answer the question.

No LLM is needed: sentences and list items are scored by lemma overlap with the question and
by similarity of their precomputed vectors to the question vector; each quoted item carries a
numbered citation to its chunk's document and page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.messages import quotes_note
from assistant.retrieve import Query
from ingest.analyze import Analyzer
from ingest.store import Snapshot, StoredSentence
from kysy.models import Answer, Citation, ScoredChunk
from kysy.settings import Settings


def extractive_answer(
    question: str,
    query: Query,
    retrieved: Sequence[ScoredChunk],
    snapshot: Snapshot,
    analyzer: Analyzer,
    *,
    language: str,
    settings: Settings,
) -> Answer:
    """Build an answer from quoted sentences of ``retrieved``, each with its citation [n]."""
    wanted = analyzer.content_lemmas(question)
    stored = snapshot.sentences([hit.chunk.id for hit in retrieved])
    scored: list[tuple[float, int, StoredSentence]] = []
    for rank, hit in enumerate(retrieved):
        for item in stored.get(hit.chunk.id, []):
            overlap = len(wanted & set(item.terms)) / len(wanted) if wanted else 0.0
            similarity = float(item.vector @ query.vector) if item.vector is not None else 0.0
            scored.append((overlap + similarity - 0.02 * rank, rank, item))
    scored.sort(key=lambda entry: -entry[0])
    chosen = _dedupe(scored, settings.answer_max_items)
    citations: dict[str, Citation] = {}
    lines: list[str] = []
    for _, rank, item in chosen:
        chunk = retrieved[rank].chunk
        if chunk.id not in citations:
            info = snapshot.documents.get(chunk.doc_id)
            citations[chunk.id] = Citation(
                n=len(citations) + 1,
                chunk_id=chunk.id,
                doc_id=chunk.doc_id,
                file=chunk.file,
                title=chunk.title,
                page=chunk.page,
                quote=item.sentence.text,
                url=info.url if info else None,
            )
        prefix = "- " if item.sentence.is_list_item else ""
        lines.append(f"{prefix}{item.sentence.text} [{citations[chunk.id].n}]")
    note = quotes_note(language)
    text = "\n".join(lines + ([note] if note else []))
    return Answer(text, tuple(citations.values()), tuple(retrieved), False, language, "extractive")


def _dedupe(
    scored: list[tuple[float, int, StoredSentence]], limit: int
) -> list[tuple[float, int, StoredSentence]]:
    chosen: list[tuple[float, int, StoredSentence]] = []
    seen: list[np.ndarray] = []
    texts: set[str] = set()
    for entry in scored:
        item = entry[2]
        key = item.sentence.text.strip().lower()
        if key in texts:
            continue
        if item.vector is not None and any(float(item.vector @ v) > 0.95 for v in seen):
            continue
        chosen.append(entry)
        texts.add(key)
        if item.vector is not None:
            seen.append(item.vector)
        if len(chosen) >= min(limit, 3):
            break
    return chosen
