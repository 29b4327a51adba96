"""`kysy eval squad` end to end on a tiny sample: real ingestion and the shipped answer engine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from cli.main import main
from eval.squad import GOLD_RANKS, gold_rank, load_split, run_squad, write_squad_outputs
from ingest.store import Snapshot
from kysy.errors import ConfigError
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


def test_the_choice_on_other_articles_is_reported_only_for_the_numbers_it_was_made_for(tmp_path: Path) -> None:
    from eval.squad import chosen_on_other_articles

    training = tmp_path / "training.json"
    training.write_text(json.dumps({"selection": {"answer_max_items": Settings().answer_max_items},
                                    "squad_dev_articles": {"held_out": {"gold_in_answer": 0.5, "mean_words": 30.0}}}),
                        encoding="utf-8")
    assert chosen_on_other_articles(Settings(), "dev", training) == {"gold_in_answer": 0.5, "mean_words": 30.0}
    assert chosen_on_other_articles(Settings(), "train", training) is None
    assert chosen_on_other_articles(Settings(answerable_threshold=0.3), "dev", training) is None
    assert chosen_on_other_articles(Settings(answer_max_items=Settings().answer_max_items + 1), "dev", training) is None
    assert chosen_on_other_articles(Settings(), "dev", tmp_path / "missing.json") is None
    training.write_text("{}", encoding="utf-8")  # trained before the halves were measured
    assert chosen_on_other_articles(Settings(), "dev", training) is None


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
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["product"]["gold_item_none"] == s["gold_item_none"]
    # the run record beside the settings: the code, the dataset's files and the models answered with
    record = metrics["provenance"]
    assert set(record["dataset"]) == {"dev_qa", "dev_unanswerable"} and record["analyzer"] in ("voikko", "simplemma")
    assert set(record["models"]) == {"assistant/models/item_scorer.txt", "assistant/models/answerability.json",
                                     "assistant/models/breadth.json"}
    assert record["code"]
    # dev chose the shipped threshold and numbers: the report says what the choice gave on articles it did not see
    training = json.loads((Path(__file__).resolve().parent.parent / "assistant" / "models" / "training.json")
                          .read_text(encoding="utf-8"))
    held_out = training["squad_dev_articles"]["held_out"]
    assert metrics["chosen_on_other_articles"] == held_out
    assert f"gold answer in the answer {held_out['gold_in_answer']:.3f}" in (tmp_path / "out" / "report.md").read_text(
        encoding="utf-8")
    # each row can be inspected: the question, what the product answered, and the gold answers
    rows = [json.loads(line) for line in (tmp_path / "out" / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    first = rows[0]
    assert (first["question"], first["gold_answers"]) == (QUESTIONS[0][2], [QUESTIONS[0][3]])
    assert all(row["answer"] == "" for row in rows if row["refused"])
    found = [row for row in rows if row["gold_in_answer"]]
    assert found and all(any(gold.lower() in row["answer"].lower() for gold in row["gold_answers"]) for row in found)
    # --limit asks some questions and ingests only their articles (here the first: Saimaa), in the same data
    # directory too, where the fuller run left the others
    limited = run_squad(settings, sample["dataset"], "dev", limit=1)
    assert [r.question for r in limited.records] == [QUESTIONS[0][2]]
    snapshot = Snapshot(settings.index_path)
    assert [info.title for info in snapshot.documents.values()] == ["Saimaa"]


def test_the_dataset_files_and_limit_are_told_by_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "<split>_qa.jsonl.gz and <split>_unanswerable.jsonl.gz" in shown
    assert "squad mode: N questions spread over the split (every k-th), and only their articles are ingested" in shown


def test_a_dataset_file_that_is_not_gzip_or_lacks_a_field_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "squad"
    dataset.mkdir()
    row = {"id": "q0", "question": "Mikä on Suomen suurin järvi?", "context": "Saimaa on Suomen suurin järvi.",
           "para": 0, "title": "Saimaa", "answers": {"text": ["Saimaa"], "answer_start": [0]}}
    (dataset / "dev_qa.jsonl.gz").write_text(json.dumps(row) + "\n", encoding="utf-8")  # not gzipped
    with pytest.raises(ConfigError, match=r"dev_qa.jsonl.gz: not a readable gzip file .*gzipped JSON Lines"):
        load_split(dataset, "dev")
    with gzip.open(dataset / "dev_qa.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")  # no "doc"
    code = main(["--data-dir", str(tmp_path / "data"), "eval", "squad", "--dataset", str(dataset)])
    stderr = capsys.readouterr().err
    assert code == 1 and len(stderr.splitlines()) == 1
    assert f"{dataset / 'dev_qa.jsonl.gz'}, line 1: missing field 'doc'" in stderr
