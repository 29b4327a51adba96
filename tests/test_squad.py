"""`kysy eval squad` end to end on a tiny sample: real ingestion and the shipped answer engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.squad import GOLD_RANKS, gold_rank, run_squad, write_squad_outputs
from kysy.settings import Settings
from tests.squad_sample import write_sample
from tests.test_train import ARTICLES, DOCS, OWN, QUESTIONS, UNANSWERABLE


def test_the_gold_item_rank_is_the_first_holder_by_score() -> None:
    texts = ["Saimaa on järvi.", "Norppia on noin 480.", "Kanta on 480 norppaa."]
    assert gold_rank(texts, [0.9, 0.1, 0.5], ["480"]) == 1
    assert gold_rank(texts, [0.9, 0.5, 0.5], ["480"]) == 1  # a tie keeps the candidates' order: the second is it
    assert gold_rank(texts, [0.9, 0.1, 0.5], ["Saimaa"]) == 0
    assert gold_rank(texts, [0.9, 0.1, 0.5], ["Aurajoki"]) is None
    assert gold_rank([], [], ["480"]) is None


def test_the_answer_mode_reports_where_the_gold_item_ranks(tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    sample = write_sample(tmp_path / "sample", ARTICLES, QUESTIONS, UNANSWERABLE, DOCS, OWN)
    settings = Settings(data_dir=tmp_path / "data", llm_base_url="")
    run = run_squad(settings, sample["dataset"], "dev")
    answerable = [r for r in run.records if r.answerable]
    assert len(answerable) == len(QUESTIONS) and len(run.records) == len(QUESTIONS) + len(UNANSWERABLE)
    assert all(r.gold_rank is None for r in run.records if not r.answerable)
    s = run.summary
    shares = [s[f"gold_item_in_{n}"] for n in GOLD_RANKS]
    assert shares == sorted(shares) and shares[-1] + s["gold_item_none"] <= 1.0  # type: ignore[operator]
    assert s["gold_item_in_1"] == pytest.approx(sum(r.gold_rank == 0 for r in answerable) / len(answerable), abs=1e-4)
    assert s["gold_item_in_1"] >= 0.5  # type: ignore[operator]  # each answer sentence names its question's words
    # the sample's paragraphs are prose (no list lead-ins), so an answer leads with the first item
    assert all(r.gold_in_answer for r in answerable if r.gold_rank == 0 and not r.refused and r.status == "answered")
    write_squad_outputs(run, tmp_path / "out", "dev")
    assert "the candidate item holding the gold answer" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))["product"]["gold_item_none"] \
        == s["gold_item_none"]
