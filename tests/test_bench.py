"""Smoke test of the benchmark harness on tiny inputs: it runs end to end and reports the expected rows.

No timing is asserted: only that each measurement happened, counted what it should and was judged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.client import load_questions
from bench.finlex import base_chunks, base_vectors, finlex_records
from bench.http import HttpPlan
from bench.report import Report, Row, percentile, render_markdown, render_text
from bench.retrieval_scale import time_retrieval
from bench.scale_index import build_scale_index
from bench.scale_suite import run_layouts
from bench.suites import Options, bench_settings, http_rows
from ingest.analyze import make_analyzer
from ingest.embed import make_embedder
from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.settings import Settings

TEXTS = {
    "yhteistyo.txt": "Kuntien ja hyvinvointialueiden yhteistyö\n\nKunta ja hyvinvointialue sopivat "
    "yhteistyöstä hyvinvoinnin ja terveyden edistämisessä. Yhdyspintatyö tarkoittaa yhteistä suunnittelua.",
    "liikunta.txt": "Liikuntapalvelut\n\nKunta järjestää liikuntapalveluja asukkailleen. Uimahallit ja "
    "liikuntapaikat ovat kunnan vastuulla, ja hyvinvointialue tukee ennaltaehkäisevää työtä.",
}


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A two-document index built by the real pipeline."""
    root = tmp_path_factory.mktemp("bench-tiny")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = bench_settings(root / "data").model_copy(update={"embed_cache": root / "emb.sqlite"})
    ingest_paths(settings, [corpus])
    return settings


def test_percentile_interpolates_between_samples() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile([5.0, 1.0, 3.0], 100) == 5.0


def test_questions_rotate_through_distinct_questions() -> None:
    questions = load_questions(40)
    assert len(questions) == 40
    assert len(set(questions)) == 40


def test_http_rows_measure_a_real_server(tiny_index: Settings, tmp_path: Path) -> None:
    report = Report("smoke")
    plan = HttpPlan(sequential=3, sse=2, clients=2, seconds=1.0, starts=1, questions=5)
    summary = http_rows(report, tiny_index, Options(workdir=tmp_path), plan)
    names = [row.name for row in report.rows]
    assert names == [
        "POST /api/chat, sequential",
        "POST /api/chat, 2 concurrent clients",
        "SSE time to first event",
        "start-up to /readyz 200, bundled corpus",
        "first POST /api/chat after start-up",
        "server RSS after the HTTP runs, bundled corpus",
    ]
    assert summary["sequential_n"] == 3 and summary["sequential_errors"] == 0
    assert summary["load_completed"] >= 1 and summary["load_errors"] == 0
    assert summary["sse_n"] == 2 and summary["sse_errors"] == 0
    assert summary["rss_mb"] > 10 and summary["first_question_ms"] > 0
    assert all(isinstance(row.met, bool) for row in report.rows[:5])
    text = render_text(report)
    assert "POST /api/chat, sequential" in text and "p50 <= 15 ms, p95 <= 100 ms" in text
    markdown = render_markdown(report)
    assert markdown.count("\n| ") == 1 + len(report.rows)


def test_layouts_measure_each_setup_with_the_cache_on_and_off(tiny_index: Settings, tmp_path: Path) -> None:
    report = Report("layouts")
    plan = HttpPlan(sequential=2, sse=1, clients=2, seconds=1.0, starts=1, questions=3)
    layouts = (("one embedding thread", 0, {"KYSY_EMBED_THREADS": "1"}),)
    run_layouts(report, Options(workdir=tmp_path, questions=3), tiny_index.data_dir, plan, layouts)
    assert [row.name for row in report.rows] == [
        "one embedding thread, cache on, sequential", "one embedding thread, cache on, 2 concurrent clients",
        "one embedding thread, cache off, sequential", "one embedding thread, cache off, 2 concurrent clients",
    ]
    assert all(row.median is not None and row.median > 0 for row in report.rows)
    assert all(row.note.startswith("0 errors") for row in report.rows)


def test_scale_index_copies_real_chunks_with_perturbed_vectors(tmp_path: Path) -> None:
    settings = bench_settings(tmp_path / "scale")
    analyzer, embedder = make_analyzer(settings.analyzer), make_embedder(settings.embedder)
    base = base_chunks(settings, analyzer, 4, tmp_path / "docs")
    vectors = base_vectors(base, embedder, cache_path=tmp_path / "emb.sqlite")
    built = build_scale_index(settings, base, vectors, 10, embedder=embedder, analyzer_name=analyzer.name)
    assert built.chunks == 10 and not built.reused
    snapshot = Snapshot(settings.index_path)
    try:
        assert len(snapshot.chunks) == 10 and len(snapshot.keyword) == 10
        assert len({c.id for c in snapshot.chunks}) == 10
        assert sum(c.text == base[0].chunk.text for c in snapshot.chunks) == 3  # the original + two copies
    finally:
        snapshot.close()
    assert VectorStore(settings, embedder).count() == 10
    again = build_scale_index(settings, base, vectors, 10, embedder=embedder, analyzer_name=analyzer.name)
    assert again.reused
    timing = time_retrieval(settings, embedder, analyzer, ["Mikä on viitekorko?", "Valitusoikeus"], rounds=2,
                            warmup=1)
    assert timing.chunks == 10 and len(timing.total_ms) == 4
    assert all(np.isfinite(timing.total_ms))


def test_finlex_sample_interleaves_statutes_and_decisions() -> None:
    records = finlex_records(4)
    assert [r.id[:3] for r in records] == ["sd-", "kho", "sd-", "kho"]


def test_report_rows_carry_their_verdicts() -> None:
    report = Report("r", rows=[Row("a", "<= 1 s", 0.5, None, "s", True), Row("b", "<= 1 s", 2.0, 2.5, "s", False)])
    text = render_text(report)
    assert "met" in text and "NOT MET" in text
    assert report.to_json()["rows"][1]["p95"] == 2.5  # type: ignore[index]


def test_the_prewarmed_cache_holds_every_text_the_first_ingest_embeds(tmp_path: Path) -> None:
    import sqlite3

    from bench.finlex import write_documents
    from bench.ingest_speed import prewarm_cache

    paths = write_documents(finlex_records(5), tmp_path / "docs", max_words=60)
    settings = Settings(data_dir=tmp_path / "data")
    prewarm_cache(settings, paths)

    def filed() -> list[tuple[str, int]]:
        db = sqlite3.connect(settings.embed_cache_path)
        try:
            return db.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model").fetchall()
        finally:
            db.close()

    before = filed()
    report = ingest_paths(settings, [tmp_path / "docs"])
    # the chunks, the sentences and the sentences in context were all there, under the real model's key
    assert report.failed == () and len(before) == 1 and filed() == before
