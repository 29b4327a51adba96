"""Which chunks the evidence stage reads beyond the whole question's best: each part's own best passages, and
the first passage that holds a name the question mentions."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import numpy as np

from assistant import evidence
from assistant.evidence import named_chunks, part_sources
from ingest.analyze import SimplemmaAnalyzer
from ingest.keyword import KeywordIndex
from kysy.models import Chunk, ScoredChunk


def hit(name: str, rank: int, score: float = 1.0) -> ScoredChunk:
    return ScoredChunk(Chunk(name, "d", "f.txt", "T", name, None, "", 0, len(name), "h"), score, rank, "hybrid")


# The whole question's ranking: the first two are read (``gathered``), the rest are only retrieved.
WHOLE = [hit("a", 1, 0.9), hit("b", 2, 0.8), hit("c", 3, 0.5), hit("d", 4, 0.4), hit("e", 5, 0.3)]


def ids(hits: list[ScoredChunk]) -> list[str]:
    return [h.chunk.id for h in hits]


def test_each_part_adds_its_best_passage_that_the_whole_question_does_not_read() -> None:
    # the first part's best is read already ("a"), so its next ("d") joins; the second part's best is "c"
    parts = [[hit("a", 1), hit("d", 2), hit("c", 3)], [hit("c", 1), hit("e", 2)]]
    extra = part_sources(parts, WHOLE, 2, 1)
    assert ids(extra) == ["d", "c"]
    # as the whole question scored them: the features stay on one scale
    assert [h.score for h in extra] == [0.4, 0.5] and [h.rank for h in extra] == [4, 3]


def test_a_passage_two_parts_share_joins_once_and_more_per_part_can_be_asked() -> None:
    parts = [[hit("c", 1), hit("d", 2)], [hit("c", 1), hit("d", 2), hit("e", 3)]]
    assert ids(part_sources(parts, WHOLE, 2, 1)) == ["c", "d"]
    assert ids(part_sources(parts, WHOLE, 2, 2)) == ["c", "d", "e"]


def test_a_passage_the_whole_question_did_not_retrieve_or_a_setting_of_zero_adds_nothing() -> None:
    assert part_sources([[hit("x", 1), hit("y", 2)]], WHOLE, 2, 1) == []
    assert part_sources([[hit("c", 1)]], WHOLE, 2, 0) == []
    assert part_sources([], WHOLE, 2, 1) == []


def test_a_name_no_read_passage_holds_brings_the_first_retrieved_one_that_does() -> None:
    terms = {"a": ["teema", "pilotti"], "b": ["teema"], "c": ["lappi", "painopiste"], "d": ["lappi"], "e": ["kunta"]}
    order = list(terms)
    snapshot = SimpleNamespace(keyword=KeywordIndex.build([terms[name] for name in order]),
                               row_of={name: row for row, name in enumerate(order)})
    query = SimpleNamespace(names=frozenset({"lappi"}), vector=np.zeros(2))
    assert ids(named_chunks(query, WHOLE, 2, snapshot, 1)) == ["c"]  # type: ignore[arg-type]
    assert ids(named_chunks(query, WHOLE, 2, snapshot, 2)) == ["c", "d"]  # type: ignore[arg-type]
    assert named_chunks(query, WHOLE, 3, snapshot, 1) == []  # type: ignore[arg-type]  # a read passage holds it
    assert named_chunks(query, WHOLE, 2, snapshot, 0) == []  # type: ignore[arg-type]
    nameless = SimpleNamespace(names=frozenset(), vector=np.zeros(2))
    assert named_chunks(nameless, WHOLE, 2, snapshot, 1) == []  # type: ignore[arg-type]


def test_a_headings_lemmas_are_kept_between_questions_without_keeping_the_analyzer_alive() -> None:
    analyzer = SimplemmaAnalyzer()
    heading = "Hyvinvoinnin ja terveyden edistäminen"
    first = evidence._lemmas(analyzer, heading)
    assert first == frozenset(analyzer.content_lemmas(heading))
    assert evidence._lemmas(analyzer, heading) is first
    gone = weakref.ref(analyzer)
    del analyzer
    gc.collect()
    assert gone() is None


def test_a_heading_is_analysed_each_time_for_an_analyzer_that_cannot_be_referenced_weakly() -> None:
    plain = SimpleNamespace(content_lemmas=lambda text: {"hyvinvointi", "edistäminen"})
    assert evidence._lemmas(plain, "Hyvinvoinnin edistäminen") == frozenset({"hyvinvointi", "edistäminen"})  # type: ignore[arg-type]
