"""The evaluation question set: its shape, its coverage, and evidence that really is in the sources."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from eval.metrics import keyword_present, normalize_words
from eval.questionset import (
    TRAINING_SETS,
    Question,
    QuestionSetError,
    collapse_whitespace,
    corpus_files,
    fitted_wordings,
    fold_of,
    is_fitted_set,
    load_questions,
    source_text,
    wording_key,
)
from eval.training import same_text
from ingest.chunk import split_sentences
from kysy.models import Chunk

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.fi.jsonl"
HOLDOUT = ROOT / "eval" / "questions.holdout.fi.jsonl"
CROSSLINGUAL = ROOT / "eval" / "questions.crosslingual.jsonl"
HOLDOUT2 = ROOT / "eval" / "questions.holdout2.jsonl"
HOLDOUT3 = ROOT / "eval" / "questions.holdout3.jsonl"
HOLDOUT4 = ROOT / "eval" / "questions.holdout4.jsonl"
HOLDOUT5 = ROOT / "eval" / "questions.holdout5.jsonl"
HOLDOUT6 = ROOT / "eval" / "questions.holdout6.jsonl"
HOLDOUT7 = ROOT / "eval" / "questions.holdout7.jsonl"
HOLDOUT8 = ROOT / "eval" / "questions.holdout8.jsonl"
HOLDOUT9 = ROOT / "eval" / "questions.holdout9.jsonl"
HOLDOUT10 = ROOT / "eval" / "questions.holdout10.jsonl"
HOLDOUT11 = ROOT / "eval" / "questions.holdout11.jsonl"
HOLDOUT12 = ROOT / "eval" / "questions.holdout12.jsonl"
HOLDOUT13 = ROOT / "eval" / "questions.holdout13.jsonl"
HOLDOUT14 = ROOT / "eval" / "questions.holdout14.jsonl"
HOLDOUT15 = ROOT / "eval" / "questions.holdout15.jsonl"
HOLDOUT16 = ROOT / "eval" / "questions.holdout16.jsonl"
HOLDOUT17 = ROOT / "eval" / "questions.holdout17.jsonl"
HOLDOUT18 = ROOT / "eval" / "questions.holdout18.jsonl"
HOLDOUT19 = ROOT / "eval" / "questions.holdout19.jsonl"
HOLDOUT20 = ROOT / "eval" / "questions.holdout20.jsonl"
HOLDOUT21 = ROOT / "eval" / "questions.holdout21.jsonl"
HOLDOUT22 = ROOT / "eval" / "questions.holdout22.jsonl"
HOLDOUT23 = ROOT / "eval" / "questions.holdout23.jsonl"
HOLDOUT24 = ROOT / "eval" / "questions.holdout24.jsonl"
HOLDOUT25 = ROOT / "eval" / "questions.holdout25.jsonl"
HOLDOUT26 = ROOT / "eval" / "questions.holdout26.jsonl"
HOLDOUT27 = ROOT / "eval" / "questions.holdout27.jsonl"
HOLDOUT28 = ROOT / "eval" / "questions.holdout28.jsonl"
HOLDOUT29 = ROOT / "eval" / "questions.holdout29.jsonl"
HOLDOUT30 = ROOT / "eval" / "questions.holdout30.jsonl"
HOLDOUT31 = ROOT / "eval" / "questions.holdout31.jsonl"
HOLDOUT32 = ROOT / "eval" / "questions.holdout32.jsonl"
HOLDOUT33 = ROOT / "eval" / "questions.holdout33.jsonl"
HOLDOUT34 = ROOT / "eval" / "questions.holdout34.jsonl"
HOLDOUT35 = ROOT / "eval" / "questions.holdout35.jsonl"
HOLDOUT36 = ROOT / "eval" / "questions.holdout36.jsonl"
HOLDOUT37 = ROOT / "eval" / "questions.holdout37.jsonl"
HOLDOUT38 = ROOT / "eval" / "questions.holdout38.jsonl"
HOLDOUT39 = ROOT / "eval" / "questions.holdout39.jsonl"
HOLDOUT40 = ROOT / "eval" / "questions.holdout40.jsonl"
HOLDOUT41 = ROOT / "eval" / "questions.holdout41.jsonl"
# Short questions as a chat box gets them (2 to 7 words, keyword queries, lower case, a typo or two).
HOLDOUT42 = ROOT / "eval" / "questions.holdout42.jsonl"
HOLDOUT43 = ROOT / "eval" / "questions.holdout43.jsonl"
HOLDOUT44 = ROOT / "eval" / "questions.holdout44.jsonl"
HOLDOUT45 = ROOT / "eval" / "questions.holdout45.jsonl"
HOLDOUT46 = ROOT / "eval" / "questions.holdout46.jsonl"
HOLDOUT47 = ROOT / "eval" / "questions.holdout47.jsonl"
HOLDOUT48 = ROOT / "eval" / "questions.holdout48.jsonl"
SHORT = (HOLDOUT42, HOLDOUT43, HOLDOUT44, HOLDOUT45, HOLDOUT46, HOLDOUT48)
# Questions in an official's own words when in a hurry: everyday words and synonyms rather than the sources'
# terms, "Onko ...", "Kannattaako ...", comparisons.
HOLDOUT49 = ROOT / "eval" / "questions.holdout49.jsonl"
HOLDOUT50 = ROOT / "eval" / "questions.holdout50.jsonl"
HOLDOUT51 = ROOT / "eval" / "questions.holdout51.jsonl"
HOLDOUT52 = ROOT / "eval" / "questions.holdout52.jsonl"
HOLDOUT53 = ROOT / "eval" / "questions.holdout53.jsonl"
# The usual mix again, written after the everyday-words round.
HOLDOUT54 = ROOT / "eval" / "questions.holdout54.jsonl"
# Follow-ups asking what came later or earlier than the previous answer ("Entä mitä sen jälkeen on tapahtunut?").
HOLDOUT55 = ROOT / "eval" / "questions.holdout55.jsonl"
HOLDOUT56 = ROOT / "eval" / "questions.holdout56.jsonl"
HOLDOUT57 = ROOT / "eval" / "questions.holdout57.jsonl"
# Follow-ups of every other kind: an ellipsis, a word pointing back, a topic switch, a near miss.
HOLDOUT58 = ROOT / "eval" / "questions.holdout58.jsonl"
HOLDOUT59 = ROOT / "eval" / "questions.holdout59.jsonl"
# Questions asking which ones: regions by name, "alue" as a field of work, and near misses of both.
HOLDOUT60 = ROOT / "eval" / "questions.holdout60.jsonl"
HOLDOUT61 = ROOT / "eval" / "questions.holdout61.jsonl"
# Questions asking how many: counts the materials state, and near misses counting another thing than a number nearby.
HOLDOUT62 = ROOT / "eval" / "questions.holdout62.jsonl"
HOLDOUT63 = ROOT / "eval" / "questions.holdout63.jsonl"
# Short questions in everyday words, of every kind: facts, lists, broad ones, English and Swedish, near misses.
HOLDOUT64 = ROOT / "eval" / "questions.holdout64.jsonl"
HOLDOUT65 = ROOT / "eval" / "questions.holdout65.jsonl"
# Conversations in English and Swedish above all: follow-ups pointing back as chat users write them, and
# standalone questions whose "that", "det" or "it" points nowhere.
HOLDOUT66 = ROOT / "eval" / "questions.holdout66.jsonl"
HOLDOUT67 = ROOT / "eval" / "questions.holdout67.jsonl"
# The sets `make train` fits on (TRAINING_SETS), and the held-out sets kept out of every fit.
FITTED = (QUESTIONS, HOLDOUT, CROSSLINGUAL, HOLDOUT2, HOLDOUT3, HOLDOUT4, HOLDOUT5, HOLDOUT6, HOLDOUT7, HOLDOUT8,
          HOLDOUT9, HOLDOUT10, HOLDOUT11, HOLDOUT12, HOLDOUT13, HOLDOUT14, HOLDOUT15, HOLDOUT16, HOLDOUT17, HOLDOUT18,
          HOLDOUT19, HOLDOUT43, HOLDOUT44, HOLDOUT49)
KEPT_OUT = (HOLDOUT20, HOLDOUT21, HOLDOUT22, HOLDOUT23, HOLDOUT24, HOLDOUT25, HOLDOUT26, HOLDOUT27, HOLDOUT28,
            HOLDOUT29, HOLDOUT30, HOLDOUT31, HOLDOUT32, HOLDOUT33, HOLDOUT34, HOLDOUT35, HOLDOUT36,
            HOLDOUT37, HOLDOUT38, HOLDOUT39, HOLDOUT40, HOLDOUT41, HOLDOUT42, HOLDOUT45, HOLDOUT46, HOLDOUT47,
            HOLDOUT48, HOLDOUT50, HOLDOUT51, HOLDOUT52, HOLDOUT53, HOLDOUT54, HOLDOUT55, HOLDOUT56,
            HOLDOUT57, HOLDOUT58, HOLDOUT59, HOLDOUT60, HOLDOUT61, HOLDOUT62, HOLDOUT63,
            HOLDOUT64, HOLDOUT65, HOLDOUT66, HOLDOUT67)
# How many questions of each set kept out a fitted set asks word for word (its "fitted twins").
FITTED_TWINS = {HOLDOUT20: 12, HOLDOUT21: 10, HOLDOUT22: 15, HOLDOUT23: 10, HOLDOUT24: 6, HOLDOUT25: 5, HOLDOUT26: 4,
                HOLDOUT27: 5, HOLDOUT28: 7, HOLDOUT29: 8, HOLDOUT30: 12, HOLDOUT31: 13, HOLDOUT32: 10, HOLDOUT33: 14,
                HOLDOUT34: 7, HOLDOUT35: 18, HOLDOUT36: 12, HOLDOUT37: 11, HOLDOUT38: 15,
                HOLDOUT39: 16, HOLDOUT40: 6, HOLDOUT41: 12, HOLDOUT42: 13, HOLDOUT45: 6, HOLDOUT46: 7,
                HOLDOUT47: 4, HOLDOUT48: 7, HOLDOUT50: 7, HOLDOUT51: 7, HOLDOUT52: 8, HOLDOUT53: 8,
                HOLDOUT54: 14, HOLDOUT55: 0, HOLDOUT56: 0, HOLDOUT57: 0, HOLDOUT58: 5, HOLDOUT59: 4,
                HOLDOUT60: 1, HOLDOUT61: 1, HOLDOUT62: 3, HOLDOUT63: 1, HOLDOUT64: 4,
                HOLDOUT65: 5, HOLDOUT66: 0, HOLDOUT67: 1}
PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"

MINIMUM_BY_TYPE = {"multi_doc": 12, "followup": 10, "unanswerable": 18, "injection": 4}


@pytest.fixture(scope="module", params=[*FITTED, *KEPT_OUT],
                ids=lambda path: path.name.removeprefix("questions.").removesuffix(".jsonl"))
def questions(request: pytest.FixtureRequest) -> list[Question]:
    return load_questions(request.param)


@pytest.fixture(scope="module")
def question_set() -> list[Question]:
    return load_questions(QUESTIONS)


def _evidence_location(question: Question, passage: str) -> tuple[str, int | None] | None:
    """Return the (file, page) where the passage occurs verbatim, or None."""
    needle = collapse_whitespace(passage)
    for file in question.sources:
        if file.endswith(".pdf"):
            for page in question.pages.get(file, ()):
                if needle in source_text(CORPUS, file, page):
                    return file, page
        elif needle in source_text(CORPUS, file):
            return file, None
    return None


def test_counts_per_type(question_set: list[Question]) -> None:
    questions = question_set
    counts = Counter(question.type for question in questions)
    assert len(questions) >= 100
    for type_, minimum in MINIMUM_BY_TYPE.items():
        assert counts[type_] >= minimum, f"{type_}: {counts[type_]} < {minimum}"
    assert counts["english"] + counts["swedish"] >= 8
    assert counts["english"] >= 1 and counts["swedish"] >= 1


def test_followups_carry_alternating_history(question_set: list[Question]) -> None:
    questions = question_set
    followups = [question for question in questions if question.type == "followup"]
    assert followups
    for question in followups:
        assert question.history and len(question.history) % 2 == 0, question.id


def test_multi_doc_questions_cite_several_documents(questions: list[Question]) -> None:
    for question in questions:
        if question.type == "multi_doc":
            assert len(question.sources) >= 2, question.id


def test_unanswerable_questions_have_nothing_to_cite(questions: list[Question]) -> None:
    for question in questions:
        if question.type == "unanswerable":
            assert not question.answerable, question.id
        if not question.answerable:
            assert question.sources == question.evidence == question.answer_keywords == (), question.id


def test_sources_exist_and_pdf_questions_give_pages(questions: list[Question]) -> None:
    known = set(corpus_files(CORPUS))
    for question in questions:
        assert set(question.sources) <= known, question.id
        if PDF in question.sources:
            assert question.pages.get(PDF), f"{question.id} cites the PDF without pages"


def test_every_evidence_passage_is_verbatim_in_its_source(questions: list[Question]) -> None:
    missing = [
        (question.id, passage)
        for question in questions
        for passage in question.evidence
        if _evidence_location(question, passage) is None
    ]
    assert not missing


def test_evidence_passages_are_short(questions: list[Question]) -> None:
    for question in questions:
        for passage in question.evidence:
            assert 1 <= len(normalize_words(passage)) <= 40, (question.id, passage)  # a sentence, not a paragraph
            assert "Kuntaliitto · Hyvil —" not in passage, question.id


@pytest.mark.parametrize("path", TRAINING_SETS, ids=[path.name for path in TRAINING_SETS])
def test_the_fitted_sets_evidence_is_a_sentence_or_a_slide_line(path: Path) -> None:
    """A passage of fewer than five words labels items by their words (``same_text``); a slide's page keeps
    that precise, and so does a whole sentence that no other sentence of its text shares that many with."""
    for question in load_questions(ROOT / path):
        for passage in question.evidence:
            if len(normalize_words(passage)) < 5:
                location = _evidence_location(question, passage)
                assert location, (question.id, passage)
                if location[0] != PDF:
                    assert _sentences_labelled(passage, source_text(CORPUS, location[0])) == 1, (question.id, passage)


def _sentences_labelled(passage: str, text: str) -> int:
    """How many quotable units of ``text``, split as ingest splits them, the training would take for
    ``passage`` (``same_text``)."""
    whole = Chunk("source", "doc", "source.txt", "", text, None, "", 0, len(text), "")
    return sum(same_text(sentence.text, passage) for sentence in split_sentences(whole))


def test_the_short_sets_ask_as_a_chat_box_is_asked() -> None:
    for path in SHORT:
        questions = load_questions(path)
        assert len(questions) == 60 and all(2 <= len(q.question.split()) <= 7 for q in questions), path.name
        assert sum(q.question == q.question.lower() for q in questions) >= 5  # some typed all in lower case
        assert sum(not q.question.rstrip().endswith("?") for q in questions) >= 5  # some without a question mark


def test_the_unseen_set_is_not_fitted() -> None:
    unseen = {path.relative_to(ROOT) for path in KEPT_OUT}
    fitted = {path.relative_to(ROOT) for path in FITTED}
    assert unseen.isdisjoint(TRAINING_SETS) and set(TRAINING_SETS) == fitted


def test_keywords_are_few_and_backed_by_evidence(questions: list[Question]) -> None:
    for question in questions:
        if not question.answerable:
            continue
        assert 1 <= len(question.answer_keywords) <= 5, question.id
        if question.type in ("english", "swedish"):
            continue
        evidence = " ".join(question.evidence)
        for keyword in question.answer_keywords:
            assert keyword_present(keyword, evidence), (question.id, keyword)


def test_every_document_and_most_slides_are_covered(question_set: list[Question]) -> None:
    questions = question_set
    cited = {file for question in questions for file in question.sources}
    assert cited == set(corpus_files(CORPUS))
    pages = set()
    for question in questions:
        for passage in question.evidence:
            location = _evidence_location(question, passage)
            if location and location[0] == PDF:
                pages.add(location[1])
    assert len(pages) >= 9, sorted(pages)


def test_source_text_reads_pdf_pages_and_text_files() -> None:
    page = source_text(CORPUS, PDF, 9)
    assert page.startswith("Etelä-Karjala 9 kuntaa Väestöpohja 127 000")
    assert "\n" not in page
    assert page in source_text(CORPUS, PDF)
    with pytest.raises(QuestionSetError, match="pages 1..12"):
        source_text(CORPUS, PDF, 13)
    text_file = "2022-kuntaliitto-ehdottaa-hyvinvointialueille-yhteistyota.txt"
    assert "Minna Karhunen" in source_text(CORPUS, text_file)
    with pytest.raises(QuestionSetError, match="no pages"):
        source_text(CORPUS, text_file, 1)
    with pytest.raises(QuestionSetError, match="not found"):
        source_text(CORPUS, "puuttuu.txt")


def _record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "q1",
        "question": "Montako kuntaa?",
        "answerable": True,
        "sources": [PDF],
        "pages": {PDF: [9]},
        "evidence": ["Etelä-Karjala 9 kuntaa"],
        "answer_keywords": ["9"],
        "type": "number",
    }
    record.update(changes)
    return record


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_questions_parses_a_valid_line(tmp_path: Path) -> None:
    extra = _record(id="q2", type="followup", history=["Kysymys?", "Vastaus."])
    path = _write(tmp_path, json.dumps(_record()), "", json.dumps(extra))
    loaded = load_questions(path)
    assert [question.id for question in loaded] == ["q1", "q2"]
    assert loaded[0].pages == {PDF: (9,)}
    assert loaded[1].history == ("Kysymys?", "Vastaus.") and loaded[1].type == "followup"
    assert [question.line for question in loaded] == [1, 3]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: bad JSON"),
        (
            json.dumps({k: v for k, v in _record(id="q2").items() if k != "evidence"}),
            "line 2: missing field.*evidence",
        ),
        (json.dumps(_record(id="q2", evidence=[])), "line 2: answerable question 'q2' has no evidence"),
        (
            json.dumps(_record(id="q2", answerable=False)),
            "line 2: unanswerable question 'q2' must have empty sources",
        ),
        (json.dumps(_record(id="q2", answerable="yes")), "line 2: field 'answerable'"),
        (json.dumps(_record(id="q2", pages={"muu.txt": [1]})), "line 2: pages names 'muu.txt'"),
        (json.dumps(_record()), "line 2: id 'q1' repeats line 1"),
        ("[1, 2]", "line 2: expected a JSON object"),
        # a misspelt field would silently leave the keywords unchecked
        (json.dumps({**_record(id="q2"), "answer_keyword": ["9"]}),
         r"line 2: unknown field\(s\) 'answer_keyword' \(did you mean answer_keywords\?\)"),
        (json.dumps(_record(id="q2", type="factoid")), r"line 2: unknown type 'factoid' \(did you mean fact\?\)"),
        (json.dumps(_record(id="q2", type="oma-tyyppi")), "line 2: unknown type 'oma-tyyppi'; the types are fact, number, "
         "list, broad, multi_doc, keyword, typo, synonym, long, english, swedish, followup, topic_switch, "
         "unanswerable, injection$"),
        (json.dumps(_record(id="q2", type="Fact")), r"line 2: unknown type 'Fact' \(did you mean fact\?\)"),
        (json.dumps(_record(id="q2", type="unanswerable")), """line 2: type 'unanswerable' needs "answerable": false"""),
        (json.dumps(_record(id="q2", type="followup")), "line 2: type 'followup' needs a history"),
        (json.dumps(_record(id="q2", history=["Kysymys?"])), "line 2: history has 1 turns; it alternates"),
    ],
)
def test_load_questions_names_the_bad_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = _write(tmp_path, json.dumps(_record()), bad_line)
    with pytest.raises(QuestionSetError, match=message):
        load_questions(path)


def test_every_bad_line_is_reported_on_a_line_of_its_own(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(_record()), json.dumps(_record(id="q2", type="Fact")),
                  json.dumps(_record(id="q3")), json.dumps({**_record(id="q4"), "answer_keyword": []}))
    with pytest.raises(QuestionSetError) as raised:
        load_questions(path)
    lines = str(raised.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}, line 2", f"{path}, line 4"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(_record()) + "\n").encode("utf-8"))
    assert [question.id for question in load_questions(path)] == ["q1"]


@pytest.mark.parametrize("text", [
    json.dumps([_record()], indent=2),  # a JSON array over many lines
    json.dumps([_record()]),  # a JSON array on one line
    "id,question,answerable\nq1,Montako kuntaa?,true",  # a CSV file
])
def test_a_json_array_or_csv_file_is_told_what_the_format_is(tmp_path: Path, text: str) -> None:
    with pytest.raises(QuestionSetError, match="line 1: .*expected JSON Lines: one JSON object per line") as raised:
        load_questions(_write(tmp_path, text))
    assert len(str(raised.value).splitlines()) == 1


def test_a_file_that_cannot_be_read_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="no such question file"):
        load_questions(tmp_path / "missing.jsonl")
    with pytest.raises(QuestionSetError, match="is a directory"):
        load_questions(tmp_path)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes((json.dumps(_record()) + "\n").encode("utf-8")
                       + json.dumps(_record(id="q2", question="Mitä Etelä-Karjalassa?"), ensure_ascii=False).encode("latin-1"))
    with pytest.raises(QuestionSetError, match="line 2: not UTF-8 .*; the question file must be UTF-8"):
        load_questions(latin1)


def test_the_same_question_under_two_ids_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    twin = _record(id="q2", question="  MONTAKO kuntaa? ")
    after_history = _record(id="q3", type="followup", history=["Mikä on Lappi?", "Maakunta."])
    path = _write(tmp_path, json.dumps(_record()), json.dumps(twin), json.dumps(after_history))
    with caplog.at_level("WARNING", logger="eval.questionset"):
        assert len(load_questions(path)) == 3
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    # the same words after another history ask something else: only the plain twin is warned of
    assert warnings == [f"{path}, line 2: question 'q2' asks the same words as 'q1' (line 1)"]


def test_load_questions_rejects_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="no questions"):
        load_questions(_write(tmp_path, ""))


def test_the_holdout_set_asks_of_every_document_and_kind() -> None:
    holdout = load_questions(HOLDOUT)
    counts = Counter(question.type for question in holdout)
    assert len(holdout) >= 40 and counts["unanswerable"] >= 10 and counts["multi_doc"] >= 5 and counts["broad"] >= 5
    assert {file for question in holdout for file in question.sources} == set(corpus_files(CORPUS))
    known = {question.question for question in load_questions(QUESTIONS)}
    assert not known & {question.question for question in holdout}


def test_the_sets_kept_out_of_the_fit_are_known_by_path_and_their_fitted_wordings_counted() -> None:
    assert all(is_fitted_set(ROOT / path) for path in TRAINING_SETS)
    assert not any(is_fitted_set(path) for path in KEPT_OUT)
    fitted = fitted_wordings()
    assert wording_key("  Mikä on  KUNTALIITTO? ") == "mikä on kuntaliitto?"
    assert len(fitted) > 1200 and all(key == wording_key(key) for key in fitted)
    # independent writers ask some questions in the very same words ("Mikä on projektipäällikkö Liisa Jurmun
    # puhelinnumero?"): the reports count them and show each set without them
    twins = {path.name: sum(wording_key(q.question) in fitted for q in load_questions(path)) for path in KEPT_OUT}
    assert twins == {path.name: count for path, count in FITTED_TWINS.items()}


def test_a_question_asked_word_for_word_by_two_fitted_sets_is_in_one_fold() -> None:
    questions = [question for path in TRAINING_SETS for question in load_questions(ROOT / path)]
    by_wording: dict[str, set[int]] = {}
    for question in questions:
        by_wording.setdefault(wording_key(question.question), set()).add(fold_of(question, 5))
    asked = Counter(wording_key(question.question) for question in questions)
    assert any(count > 1 for count in asked.values())  # the fitted sets do hold such questions (four when this was written)
    assert all(len(folds) == 1 for folds in by_wording.values())
    assert len({fold for folds in by_wording.values() for fold in folds}) == 5
    first, *_ = questions
    twin = replace(first, id="another-id", question=f"  {first.question.upper()} ")
    assert fold_of(twin, 5) == fold_of(first, 5)
