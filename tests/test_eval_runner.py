"""The question-set evaluation end to end: a tiny ingested corpus, six questions, the real CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from assistant.answerability import ANSWERABILITY_MODEL
from assistant.breadth import BREADTH_MODEL
from assistant.scoring import ITEM_MODEL
from cli.main import main
from eval.questionset import TRAINING_SETS, load_questions
from eval.report import citation_place
from ingest.pipeline import ingest_paths
from kysy.settings import Settings

DOCS = {
    "lappi.txt": (
        "Lapin hyvinvointialue\n\n"
        "Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen. "
        "Pilotissa kunnat ja hyvinvointialue harjoittelevat yhdessä häiriötilanteita.\n\n"
        "Lapissa on 21 kuntaa, ja välimatkat ovat pitkiä."
    ),
    "karjala.txt": (
        "Etelä-Karjalan malli\n\n"
        "Etelä-Karjalassa on 9 kuntaa. Etelä-Karjalan väestöpohja on noin 127 000 asukasta.\n\n"
        "Etelä-Karjalassa yhdyspintatyötä on tehty pitkään ilman erillisiä sopimuksia."
    ),
    "tyollisyys.txt": (
        "Työllisyyspalvelut\n\n"
        "Työllisyyspalvelut siirtyvät kunnille vuoden 2025 alussa. "
        "Työllisyyden edistäminen edellyttää toimivaa yhteistyötä hyvinvointialueen kanssa."
    ),
}

QUESTIONS = [
    {"id": "fact-1", "question": "Mitä painopisteitä Lapin pilotissa on?", "answerable": True,
     "sources": ["lappi.txt"], "evidence": ["Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen."],
     "answer_keywords": ["turvallisuus", "varautuminen"], "type": "fact"},
    {"id": "fact-2", "question": "Mikä on Etelä-Karjalan väestöpohja?", "answerable": True,
     "sources": ["karjala.txt"], "evidence": ["Etelä-Karjalan väestöpohja on noin 127 000 asukasta."],
     "answer_keywords": ["127 000"], "type": "fact"},
    {"id": "fact-3", "question": "Milloin työllisyyspalvelut siirtyvät kunnille?", "answerable": True,
     "sources": ["tyollisyys.txt"], "evidence": ["Työllisyyspalvelut siirtyvät kunnille vuoden 2025 alussa."],
     "answer_keywords": ["2025"], "type": "fact"},
    {"id": "follow-1", "question": "Entä Etelä-Karjalassa?", "answerable": True,
     "history": ["Montako kuntaa Lapissa on?", "Lapissa on 21 kuntaa [1]."],
     "sources": ["karjala.txt"], "evidence": ["Etelä-Karjalassa on 9 kuntaa."],
     "answer_keywords": ["9"], "type": "followup"},
    {"id": "none-1", "question": "Paljonko Tampereen raitiotien rakentaminen maksoi?", "answerable": False,
     "sources": [], "evidence": [], "answer_keywords": [], "type": "unanswerable"},
    {"id": "none-2", "question": "Kuka voitti jääkiekon maailmanmestaruuden vuonna 1995?", "answerable": False,
     "sources": [], "evidence": [], "answer_keywords": [], "type": "unanswerable"},
]

TOP_KEYS = {"retrievers", "answers", "latency_ms", "settings", "questions", "conversation_invariance",
            "wording_robustness", "provenance"}
RETRIEVAL_KEYS = {"recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
ANSWER_KEYS = {"keyword_recall", "citation_precision", "answered_with_citation", "refusal_accuracy",
               "false_refusal_rate", "answerable_auc"}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A three-file corpus ingested once for the module, and its question file."""
    root = tmp_path_factory.mktemp("evalrun")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    data = root / "data"
    ingest_paths(Settings(data_dir=data, llm_base_url=""), [corpus])
    questions = root / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return data, questions


def _eval(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str]:
    code = main(["--data-dir", str(data), "eval", *args])
    return code, capsys.readouterr().out


def _failed(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> str:
    """What ``kysy eval`` says on stderr when it fails (exit 1, nothing on stdout)."""
    code = main(["--data-dir", str(data), "eval", *args])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, ""), captured.err
    return captured.err


@pytest.fixture(autouse=True)
def _no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KYSY_LLM_BASE_URL", raising=False)


def test_json_has_exactly_the_documented_keys_and_shares(indexed: tuple[Path, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data, questions = indexed
    out = tmp_path / "run"
    code, stdout = _eval(capsys, data, "--questions", str(questions), "--out", str(out), "--json")
    assert code == 0
    summary = json.loads(stdout)
    assert set(summary) == TOP_KEYS
    assert summary["questions"] == 6
    assert set(summary["retrievers"]) == {"bm25-raw", "bm25-lemma", "dense", "fusion", "hybrid", "langchain-naive"}
    for metrics in summary["retrievers"].values():
        assert set(metrics) == RETRIEVAL_KEYS
        assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert set(summary["answers"]) == ANSWER_KEYS
    assert all(value is None or 0.0 <= value <= 1.0 for value in summary["answers"].values())
    assert summary["answers"]["refusal_accuracy"] is not None
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]
    assert "llm_api_key" not in summary["settings"] and "admin_token" not in summary["settings"]
    assert summary["settings"]["data_dir"] == str(data)
    # The facts are one clear sentence each: the product must find them.
    assert summary["retrievers"]["hybrid"]["recall@10"] == 1.0
    invariance = summary["conversation_invariance"]
    assert invariance["questions"] == 3 and invariance["variants"] == 3 * 3  # three unrelated turns each
    assert 0.0 <= invariance["share"] <= 1.0 and isinstance(invariance["failures"], list)
    wording = summary["wording_robustness"]
    assert wording["variants"] >= 3 and set(wording["by_kind"]) <= {"number", "synonym", "typo", "question word"}

    for name in ("metrics.json", "per_question.jsonl", "report.md", "recall_at_k.png", "by_type.png", "latency.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "recall_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert {"followup", "unanswerable", "fact"} <= set(metrics["by_type"]) and "timestamp" in metrics
    _assert_reproducible(metrics["provenance"], questions)

    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == [q["id"] for q in QUESTIONS]
    follow = rows[3]
    # A follow-up is retrieved with the product's standalone query, not the bare elliptic question.
    assert follow["standalone_query"] != follow["question"]
    assert "Karjala" in follow["standalone_query"]
    for row in rows:
        for ranked in row["retrieved"].values():
            assert len(ranked) <= 10 and [item["rank"] for item in ranked] == list(range(1, len(ranked) + 1))
        assert len(row["retrieved"]["dense"]) == 3  # three short files, one chunk each: dense returns all
        failure = row["failure"]
        # Each answer's outcome and answerability probability, so a refusal threshold can be studied offline.
        assert row["status"] in ("answered", "partial", "not_found")
        assert row["not_found"] == (row["status"] != "answered")
        assert row["answerable_probability"] is None or 0.0 <= row["answerable_probability"] <= 1.0
        if row["answerable"]:
            assert set(row["keyword_hits"]) | set(row["keyword_misses"]) == set(QUESTIONS[rows.index(row)]["answer_keywords"])
        elif not row["not_found"]:
            assert failure == "answered an unanswerable question"
        if failure:
            assert any(reason in failure for reason in (
                "no relevant chunk in top 10", "missing keywords:", "false refusal",
                "answered an unanswerable question", "irrelevant citation [", "no citation"))
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "![recall at k](recall_at_k.png)" in report and "No previous run" in report
    # It opens with a plain-Finnish summary whose counts are the run's own.
    summary = report.split("## Yhteenveto", 1)[1].split("\n## ", 1)[0]
    assert report.index("## Yhteenveto") < report.index("## Retrieval")
    answerable = [row for row in rows if row["answerable"]]
    right = sum(1 for row in answerable if not row["failure"])
    assert f"{len(answerable)} vastattavasta kysymyksestä {right} " in summary
    assert "recall@1 (oikea lähde ensimmäisenä)" in report and "mrr@10 (kuinka ylhäällä" in report
    first = round(100 * metrics["retrievers"]["hybrid"]["recall@1"])
    assert f"ja ensimmäisenä {first} %:ssa." in summary  # no cross-validated figure without --cv-models
    assert "Cross-validated" not in report and "cross-validated" not in report
    assert f"analyzer `{metrics['provenance']['analyzer']}`" in report  # the one that ran, not "auto"
    failing = [row for row in rows if row["failure"]]
    for row in failing:
        assert f"`{row['id']}`" in report


def test_second_run_in_the_same_directory_compares_with_the_first(
    indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, questions = indexed
    out = tmp_path / "run"
    assert _eval(capsys, data, "--questions", str(questions), "--out", str(out), "--json",
                 "--retrievers", "bm25-lemma,hybrid", "--limit", "3")[0] == 0
    first = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    # Flip every question's outcome in the first run: the second run's report lists each change.
    rows_path = out / "per_question.jsonl"
    rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines()]
    was_failing = {row["id"]: row["failure"] for row in rows}
    for row in rows:
        row["failure"] = None if row["failure"] else "missing keywords: invented"
    rows_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, stdout = _eval(capsys, data, "--questions", str(questions), "--out", str(out),
                         "--retrievers", "hybrid,bm25-raw", "--limit", "3")
    assert code == 0
    assert "hybrid" in stdout and "keyword_recall" in stdout  # the readable table
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"previous run of {first['timestamp']}" in report
    assert "| metric | previous | now | change |" in report
    assert "±0" in report  # same questions, same index: unchanged answer metrics
    broken = [qid for qid, failure in was_failing.items() if failure]
    assert f"Questions that changed ({3 - len(broken)} fixed, {len(broken)} broken, 0 failing differently)" in report
    for qid, failure in was_failing.items():
        expected = f"- `{qid}` now fails: **{failure}**" if failure else f"- `{qid}` now passes (was: missing keywords: invented)"
        assert expected in report
    second = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert list(second["retrievers"]) == ["hybrid", "bm25-raw"] and second["questions"] == 3
    assert "question set changed" not in report
    assert _eval(capsys, data, "--questions", str(questions), "--out", str(out), "--retrievers", "hybrid",
                 "--limit", "2")[0] == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "question set changed since then (3 -> 2 questions)" in report
    assert "Every question that was asked in both runs passes or fails as it did." in report


def test_unknown_retriever_is_a_clear_error(indexed: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data, questions = indexed
    code, stdout = _eval(capsys, data, "--questions", str(questions), "--retrievers", "hybrid,bm42", "--json")
    assert code == 1
    error = json.loads(stdout)
    assert "bm42" in error["message"] and "langchain-naive" in error["message"]


def test_a_set_kept_out_of_the_fit_is_also_scored_without_the_questions_a_fitted_set_asks(
        indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = indexed
    fitted = load_questions(Path(__file__).resolve().parent.parent / TRAINING_SETS[0])[0].question
    copied = {"id": "copy-1", "question": f"  {fitted.upper()} ", "answerable": False, "sources": [], "evidence": [],
              "answer_keywords": [], "type": "unanswerable"}
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [*QUESTIONS, copied]) + "\n",
                         encoding="utf-8")
    out = tmp_path / "run"
    code, stdout = _eval(capsys, data, "--questions", str(questions), "--out", str(out), "--json")
    assert code == 0
    summary = json.loads(stdout)
    unfitted = summary["answers_without_fitted_wordings"]
    assert unfitted["left_out"] == 1 and set(unfitted) == ANSWER_KEYS | {"left_out", "left_out_ids"}
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    refused = [row["not_found"] for row in rows if not row["answerable"] and row["id"] != "copy-1"]
    assert unfitted["refusal_accuracy"] == pytest.approx(sum(refused) / len(refused))
    assert unfitted["keyword_recall"] == summary["answers"]["keyword_recall"]  # the copy is not answerable
    assert unfitted["left_out_ids"] == ["copy-1"]
    assert "1 questions of this set are asked word for word by a set `make train` fits on (`TRAINING_SETS`): " \
        "`copy-1`; without them" in (out / "report.md").read_text(encoding="utf-8")


def _assert_reproducible(provenance: dict[str, object], questions: Path) -> None:
    """The run record names the code, the model files and question file by digest, and what actually ran."""
    code = provenance["code"]
    assert isinstance(code, dict)
    assert len(str(code.get("git_commit", ""))) == 40 or code.get("package_version")
    models = provenance["models"]
    assert models == {"assistant/models/item_scorer.txt": _sha256(ITEM_MODEL),
                      "assistant/models/answerability.json": _sha256(ANSWERABILITY_MODEL),
                      "assistant/models/breadth.json": _sha256(BREADTH_MODEL)}
    assert provenance["questions_file"] == {"path": str(questions), "resolved": str(questions.resolve()),
                                            "sha256": _sha256(questions)}
    threshold = json.loads(ANSWERABILITY_MODEL.read_text(encoding="utf-8"))["threshold"]
    assert provenance["answerable_threshold"] == {"value": threshold, "from": "assistant/models/answerability.json"}
    assert provenance["analyzer"] in ("voikko", "simplemma")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_set(path: Path, questions: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return path


def test_a_set_the_index_does_not_hold_is_refused_before_anything_is_asked(
        indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = indexed
    wrong = [
        {**QUESTIONS[0], "sources": ["2024-x.md"]},
        {**QUESTIONS[1], "sources": ["corpus/karjala.txt"]},  # a corpus/ prefix names the indexed file
        {**QUESTIONS[2], "evidence": ["Työllisyyspalvelut siirtyvät valtiolle vuoden 2030 lopussa kokonaan."]},
        QUESTIONS[4],
    ]
    questions = _write_set(tmp_path / "questions.jsonl", wrong)
    out = tmp_path / "run"
    stderr = _failed(capsys, data, "--questions", str(questions), "--out", str(out))
    assert stderr.splitlines() == [
        f"kysy: {questions}, line 1: source '2024-x.md' is not among the indexed documents",
        f"kysy: {questions}, line 3: evidence 'Työllisyyspalvelut siirtyvät valtiolle vuoden 2030 lopussa…' is not "
        "found in tyollisyys.txt (no indexed chunk of it holds 80 % of the passage's words)",
    ]
    assert not (out / "per_question.jsonl").exists() and not (out / "metrics.json").exists()


def test_a_set_without_answerable_questions_shows_dashes(indexed: tuple[Path, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = indexed
    questions = _write_set(tmp_path / "questions.jsonl", [q for q in QUESTIONS if not q["answerable"]])
    out = tmp_path / "run"
    code = main(["--data-dir", str(data), "eval", "--questions", str(questions), "--out", str(out),
                 "--retrievers", "hybrid"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    hybrid = next(line for line in captured.out.splitlines() if "hybrid" in line and "–" in line)
    assert hybrid.count("–") == 6  # recall@1/3/5/10, MRR, nDCG: no answerable question to measure
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["retrievers"]["hybrid"].values()) == {None}
    assert metrics["answers"]["refusal_accuracy"] is not None
    assert "| keyword_recall (vastauksessa on odotetut asiat) | – |" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "missing.jsonl: no such question file"),
    ("directory", "is a directory; --questions takes a JSON Lines file"),
    ("latin-1", "line 1: not UTF-8 (byte 0xe4 at column 34); the question file must be UTF-8"),
    ("json array", "line 1: expected a JSON object, got list; expected JSON Lines: one JSON object per line"),
])
def test_a_question_file_that_cannot_be_read_is_a_one_line_error(
        indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str) -> None:
    data, _ = indexed
    path = {"missing": tmp_path / "missing.jsonl", "directory": tmp_path, "latin-1": tmp_path / "latin1.jsonl",
            "json array": tmp_path / "questions.json"}[kind]
    if kind == "latin-1":  # "Mikä on ..." written in Latin-1
        path.write_bytes(json.dumps(QUESTIONS[1], ensure_ascii=False).encode("latin-1"))
    if kind == "json array":
        path.write_text(json.dumps(QUESTIONS, ensure_ascii=False), encoding="utf-8")
    stderr = _failed(capsys, data, "--questions", str(path))
    assert len(stderr.splitlines()) == 1 and message in stderr and stderr.startswith("kysy: ")


def test_an_unwritable_out_or_another_modes_flag_stops_before_anything_is_asked(
        indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, questions = indexed
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    for out in ("/proc/nope", str(blocker / "run")):
        stderr = _failed(capsys, data, "--questions", str(questions), "--out", out)
        assert stderr.startswith(f"kysy: --out {out}: cannot write there (") and len(stderr.splitlines()) == 1
    assert "--dataset is for `kysy eval squad`" in _failed(capsys, data, "--questions", str(questions), "--dataset",
                                                           str(tmp_path))


def test_a_first_citation_reads_as_a_place() -> None:
    assert citation_place(["lappi.txt", None]) == "lappi.txt"
    assert citation_place(("deck.pdf", 3)) == "deck.pdf p. 3"
    assert citation_place(None) == "(nothing)"
