"""Deciding when the materials do not contain the answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieve import Query
from ingest.analyze import Analyzer
from ingest.store import Snapshot
from kysy.models import ScoredChunk


@dataclass(frozen=True)
class Decision:
    """Whether to refuse, why, and which covered topics to suggest instead."""

    not_found: bool
    reason: str
    suggestions: tuple[str, ...] = ()


def assess(query: Query, retrieved: Sequence[ScoredChunk], snapshot: Snapshot, analyzer: Analyzer) -> Decision:
    """Combine lexical coverage and dense similarity of the best chunks into a refusal decision."""
    if not retrieved:
        return Decision(True, "nothing retrieved")
    wanted = analyzer.content_lemmas(query.text)
    top = retrieved[:3]
    found: set[str] = set()
    for hit in top:
        found |= wanted & set(snapshot.chunk_terms.get(hit.chunk.id, ()))
    coverage = len(found) / len(wanted) if wanted else 0.0
    best_dense = max((dict(h.scores).get("dense", 0.0) for h in top), default=0.0)
    if coverage >= 0.5 or best_dense >= 0.86:
        return Decision(False, f"coverage={coverage:.2f} dense={best_dense:.3f}")
    topics = tuple(dict.fromkeys(h.chunk.heading.split(" > ")[-1] for h in retrieved if h.chunk.heading))[:3]
    return Decision(True, f"coverage={coverage:.2f} dense={best_dense:.3f}", topics)
