"""A question set checked against the index before it is asked: the bundled sets fit the bundled corpus,
and a source, page or evidence passage the index does not hold is named with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.metrics import is_relevant
from eval.questioncheck import index_problems
from eval.questionset import load_questions
from ingest.store import Snapshot
from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"
TEXT = "2022-kuntaliitto-ehdottaa-hyvinvointialueille-yhteistyota.txt"


@pytest.fixture(scope="module")
def snapshot(corpus_index: Settings) -> Snapshot:
    return Snapshot(corpus_index.index_path)


def _problems(snapshot: Snapshot, path: Path) -> list[str]:
    return index_problems(path, load_questions(path), snapshot.chunks, snapshot.documents.values())


def _question(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {"id": "q1", "question": "Montako kuntaa Etelä-Karjalassa on?", "answerable": True,
                                 "sources": [PDF], "pages": {PDF: [9]}, "evidence": ["Etelä-Karjala 9 kuntaa"],
                                 "answer_keywords": ["9"], "type": "number"}
    record.update(changes)
    return record


def _write(tmp_path: Path, *records: dict[str, object]) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted((ROOT / "eval").glob("questions*.jsonl")), ids=lambda p: p.name)
def test_every_bundled_set_fits_the_bundled_corpus(snapshot: Snapshot, path: Path) -> None:
    assert _problems(snapshot, path) == []


def test_a_source_that_is_not_indexed_is_named_and_a_corpus_prefix_is_tolerated(snapshot: Snapshot,
                                                                                 tmp_path: Path) -> None:
    prefixed = _question(id="q2", sources=[f"corpus/{PDF}"], pages={f"corpus/{PDF}": [9]})
    path = _write(tmp_path, _question(id="q1", sources=["2024-x.md"], pages={}), prefixed,
                  _question(id="q3", sources=[PDF.replace(".pdf", "x.pdf")], pages={}))
    assert _problems(snapshot, path) == [
        f"{path}, line 1: source '2024-x.md' is not among the indexed documents",
        f"{path}, line 3: source '{PDF.replace('.pdf', 'x.pdf')}' is not among the indexed documents; "
        f"did you mean '{PDF}'?",
    ]


def test_evidence_is_accepted_exactly_when_a_chunk_of_its_source_would_be_judged_relevant(
        snapshot: Snapshot, tmp_path: Path) -> None:
    found = "Etelä-Karjala 9 kuntaa"
    elsewhere = "Minna Karhunen"  # in the news text, not in the PDF
    invented = "Tampereen raitiotien rakentaminen maksoi kolmesataa miljoonaa euroa vuonna 2021"
    path = _write(tmp_path, _question(evidence=[found, elsewhere, invented]))
    assert _problems(snapshot, path) == [
        f"{path}, line 1: evidence {elsewhere!r} is not found in {PDF} (no indexed chunk of it holds 80 % of "
        "the passage's words)",
        f"{path}, line 1: evidence 'Tampereen raitiotien rakentaminen maksoi kolmesataa…' is not found "
        f"in {PDF} (no indexed chunk of it holds 80 % of the passage's words)",
    ]
    # the same rule as the relevance judgement: a passage accepted has a chunk that is relevant by it
    chunks = [c for c in snapshot.chunks if c.file == PDF]
    assert any(is_relevant(c.file, c.text, [PDF], [found]) for c in chunks)
    assert not any(is_relevant(c.file, c.text, [PDF], [elsewhere]) for c in chunks)


def test_a_page_the_document_does_not_have_is_an_error(snapshot: Snapshot, tmp_path: Path) -> None:
    path = _write(tmp_path, _question(pages={PDF: [9, 99]}),
                  _question(id="q2", sources=[TEXT], pages={TEXT: [1]}, evidence=["Minna Karhunen"]))
    assert _problems(snapshot, path) == [
        f"{path}, line 1: page 99 of '{PDF}' is out of range: it has pages 1..12",
        f"{path}, line 2: pages of '{TEXT}' are given, but it has no pages in the index (pages are for PDFs and "
        "slide decks)",
    ]
