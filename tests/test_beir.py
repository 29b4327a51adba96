"""BEIR retrieval mode: a toy dataset through the real embedder, Chroma and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli.main import main
from eval.beir import BeirIndex, evaluate, load_beir
from ingest.embed import make_embedder
from kysy.settings import Settings

PASSAGES = {
    "p1": "Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen.",
    "p2": "Etelä-Karjalan väestöpohja on noin 127 000 asukasta.",
    "p3": "Työllisyyspalvelut siirtyvät kunnille vuoden 2025 alussa.",
    "p4": "Helsingin kaupunginkirjasto lainaa myös soittimia ja työkaluja.",
    "p5": "Kuntaliitto ehdotti hyvinvointialueille yhteistä palveluyhtiötä.",
    "p6": "Pohjois-Savossa järjestettiin yhdyspintatyön seminaari syksyllä.",
    "p7": "Kunnat vastaavat varhaiskasvatuksesta ja perusopetuksesta.",
    "p8": "Pelastustoimi siirtyi hyvinvointialueille vuoden 2023 alussa.",
    "p9": "Hyvinvointikertomus laaditaan kerran valtuustokaudessa.",
    "p10": "Suomen suurin järvi on Saimaa, jonka rannoilla on monta kuntaa.",
}
QUERIES = {
    "q1": "Mitkä ovat Lapin pilotin painopisteet?",
    "q2": "Kuinka monta asukasta Etelä-Karjalassa on?",
    "q3": "Milloin työllisyyspalvelut siirtyvät kunnille?",
    "q4": "Mikä on Suomen suurin järvi?",
}
QRELS = {"q1": "p1", "q2": "p2", "q3": "p3", "q4": "p10"}


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, Path, Path]:
    """corpus.jsonl (with an extra key), queries.jsonl and qrels.tsv with a header line."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "text": v, "title": ""}, ensure_ascii=False) + "\n"
                              for k, v in PASSAGES.items()), encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"id": k, "text": v}, ensure_ascii=False) + "\n"
                               for k, v in QUERIES.items()), encoding="utf-8")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query_id\tpassage_id\trelevance\n" + "".join(f"{q}\t{p}\t1\n" for q, p in QRELS.items()),
                     encoding="utf-8")
    return corpus, queries, qrels


def _cached_rows(data: Path) -> int:
    with sqlite3.connect(data / "beir" / "embeddings.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def test_cli_metrics_per_query_file_and_report(dataset: tuple[Path, Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus, queries, qrels = dataset
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["--data-dir", str(data), "eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
            "--qrels", str(qrels), "--out", str(out), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"retrievers", "queries", "passages", "settings"}
    assert summary["queries"] == 4 and summary["passages"] == 10
    assert set(summary["retrievers"]) == {"bm25-raw", "bm25-lemma", "dense", "hybrid"}
    for metrics in summary["retrievers"].values():
        assert {"recall@1", "recall@5", "recall@10", "recall@20", "recall@100", "mrr@10", "ndcg@10"} <= set(metrics)
        assert metrics["recall@10"] == 1.0  # ten passages: everything is in the top 10
    # The toy queries share words with their passage: the product ranks each one first.
    assert summary["retrievers"]["hybrid"]["recall@1"] == 1.0
    assert summary["retrievers"]["bm25-lemma"]["mrr@10"] >= summary["retrievers"]["bm25-raw"]["mrr@10"]

    lines = [json.loads(line) for line in (out / "per_query.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 * 4
    for line in lines:
        assert set(line) == {"query_id", "retriever", "ranked"}
        assert 1 <= len(line["ranked"]) <= 100 and set(line["ranked"]) <= set(PASSAGES)
    hybrid = {line["query_id"]: line["ranked"] for line in lines if line["retriever"] == "hybrid"}
    assert hybrid["q1"][0] == "p1" and hybrid["q4"][0] == "p10"
    assert len(hybrid["q1"]) == 10  # dense finds every passage, so the fused list holds them all
    for name in ("metrics.json", "report.md", "recall_at_k.png"):
        assert (out / name).is_file()
    assert _cached_rows(data) == 10
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["embedded_this_run"] == 10

    # Second run: nothing embedded again, the report compares with the first run.
    assert main([*args, "--retrievers", "dense,bm25-lemma"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert list(second["retrievers"]) == ["dense", "bm25-lemma"]
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["embedded_this_run"] == 0
    assert _cached_rows(data) == 10
    assert "previous run of" in (out / "report.md").read_text(encoding="utf-8")


def test_second_index_embeds_nothing_and_limit_shrinks_the_corpus(dataset: tuple[Path, Path, Path],
                                                                  tmp_path: Path) -> None:
    corpus, queries, qrels = dataset
    settings = Settings(data_dir=tmp_path / "data")
    embedder = make_embedder(settings.embedder)
    first = BeirIndex(load_beir(corpus, queries, qrels), settings, embedder=embedder)
    assert first.embedded == 10
    again = BeirIndex(load_beir(corpus, queries, qrels), settings, embedder=embedder)
    assert again.embedded == 0
    assert evaluate(again, ["dense"]).metrics == evaluate(first, ["dense"]).metrics

    limited = load_beir(corpus, queries, qrels, limit=2)
    assert limited.query_ids == ("q1", "q2")
    assert {"p1", "p2"} <= set(limited.passage_ids) and len(limited.passage_ids) == 10
    assert "--limit 2" in limited.note


def test_bad_inputs_are_clear_errors(dataset: tuple[Path, Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus, queries, qrels = dataset
    base = ["--data-dir", str(tmp_path / "data"), "eval", "retrieval", "--json"]
    assert main([*base, "--corpus", str(corpus), "--queries", str(queries)]) == 1
    assert "--qrels" in json.loads(capsys.readouterr().out)["message"]
    assert main([*base, "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels),
                 "--retrievers", "langchain-naive"]) == 1
    assert "bm25-lemma" in json.loads(capsys.readouterr().out)["message"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "p1"}\n', encoding="utf-8")
    assert main([*base, "--corpus", str(broken), "--queries", str(queries), "--qrels", str(qrels)]) == 1
    assert "broken.jsonl, line 1" in json.loads(capsys.readouterr().out)["message"]


def test_hybrid_ranks_as_the_product_does(dataset: tuple[Path, Path, Path], tmp_path: Path) -> None:
    corpus, queries, qrels = dataset
    index = BeirIndex(load_beir(corpus, queries, qrels), Settings(data_dir=tmp_path / "data"))
    hits = index.search("hybrid", "Milloin pelastustoimi siirtyi hyvinvointialueille?", 5)
    assert hits[0].chunk.id == "p8" and dict(hits[0].scores)["coverage"] == pytest.approx(1.0)
    assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]
    # the product's query preparation: a misspelt word is searched by the word the passages use
    assert index.search("bm25-lemma", "Milloin pelastustomi siirtyi?", 3)[0].chunk.id == "p8"
