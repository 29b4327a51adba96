"""Follow-ups asking what came later or earlier than the previous answer's sources (``assistant/timeline.py``), on the
bundled corpus: a 2022 news item, a 2023 web page and news item, and a 2024 news item and slide deck."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from assistant.followup import carried_words
from assistant.messages import period_refusal
from assistant.service import Assistant
from assistant.timeline import (
    EARLIER,
    LATER,
    NOW,
    beyond,
    points_back,
    quoted_documents,
    side,
    time_direction,
    within,
    without_phrase,
)
from eval.baselines import RetrieverSet
from eval.questionset import load_questions
from eval.runner import evaluate_question
from ingest.analyze import make_analyzer
from kysy.models import Answer, Turn
from kysy.settings import Settings

ANALYZER = make_analyzer()
PROPOSAL = "Mitä Kuntaliitto ehdotti hyvinvointialueille vuonna 2022?"
NEWS_2022 = "2022-kuntaliitto-ehdottaa-hyvinvointialueille-yhteistyota.txt"


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def _year(assistant: Assistant, file: str) -> int | None:
    return next(doc.year for doc in assistant.snapshot.documents.values() if doc.file == file)


def _conversation(assistant: Assistant, *questions: str) -> list[Answer]:
    history: list[Turn] = []
    answers = []
    for question in questions:
        answers.append(assistant.ask(question, history))
        history += [Turn("user", question), Turn("assistant", answers[-1].text)]
    return answers


@pytest.mark.parametrize(("question", "direction"), [
    ("Entä mitä siitä on tapahtunut sen jälkeen?", LATER),
    ("Mikä on tilanne nyt?", NOW),
    ("Is there anything newer?", LATER),
    ("Mitä sitä edelsi?", EARLIER),
    ("Miten asia on edennyt?", LATER),
    ("What happened after that?", LATER),
    ("Vad har hänt sedan dess?", LATER),
    ("Entä sitä ennen?", EARLIER),
    ("What was done before that?", EARLIER),
    ("Vad gjordes tidigare?", EARLIER),
    ("Entä Lapissa?", ""),
    ("Ketkä rahoittavat yhdyspintaprojektia?", ""),
    ("Mitä tapahtuu ennakoinnissa?", ""),  # "ennen" only as a whole word
    ("Mikä vastuu kunnille jää sen jälkeen, kun sote-tehtävät siirtyivät?", ""),  # says when, asks nothing later
    ("Mitä tehtiin ennen kuin alueet aloittivat?", ""),
    ("Mitä tapahtui vuoden 2023 jälkeen?", ""),  # its own year says after what
    ("Pitääkö tuo yhä paikkansa?", NOW),
    ("Onko se ollut esillä myöhemminkin?", LATER),  # a clitic
])
def test_the_direction_is_read_from_whole_words(question: str, direction: str) -> None:
    assert time_direction(question) == direction


def test_a_phrase_relative_to_the_previous_turn_points_back() -> None:
    assert points_back("Miten asia on sittemmin edennyt?") == "sittemmin"
    assert points_back("What has happened since then?") == "since then"
    assert points_back("Mikä on tilanne nyt?") == ""  # "now" also stands in questions of their own


def test_the_phrase_is_left_out_to_count_the_other_words() -> None:
    assert without_phrase("Miten asia on edennyt?") == "Miten asia on"
    assert without_phrase("Mitä siitä on tapahtunut sen jälkeen?") == "Mitä siitä on tapahtunut"
    assert without_phrase("Ketkä rahoittavat?") == "Ketkä rahoittavat?"
    assert without_phrase("Onko se ollut esillä myöhemminkin?") == "Onko se ollut esillä"


@pytest.mark.parametrize("question", ["Mitä tapahtui myöhemmin?", "Miten asia on edennyt?", "Entä nyt?"])
def test_a_short_question_asking_later_is_a_follow_up(assistant: Assistant, question: str) -> None:
    answer = _conversation(assistant, PROPOSAL, question)[-1]
    assert answer.meta["followup"] is True and answer.meta["period"]["year"] == 2022


def test_a_short_question_naming_its_topic_with_now_stands_alone(assistant: Assistant) -> None:
    answer = _conversation(assistant, "Ketkä rahoittavat yhdyspintaprojektia?", "hyte kenen vastuulla nyt")[-1]
    assert answer.meta["followup"] is False and "period" not in answer.meta


def test_a_follow_up_asking_later_does_not_carry_the_earlier_year() -> None:
    carried = carried_words("Entä mitä sen jälkeen on tapahtunut?", PROPOSAL, ANALYZER)
    assert "2022" not in carried and "Kuntaliitto" in carried


def test_the_documents_beyond_are_those_of_a_later_or_earlier_year(assistant: Assistant) -> None:
    documents = assistant.snapshot.documents
    by_file = {doc.file: doc.id for doc in documents.values()}
    later = beyond(LATER, (by_file[NEWS_2022],), documents)
    assert later is not None and later.year == 2022
    assert {documents[doc].year for doc in later.documents} == {2023, 2024}
    earlier = beyond(EARLIER, (by_file[NEWS_2022],), documents)
    assert earlier is not None and earlier.documents == frozenset()
    assert beyond(LATER, ("no such document",), documents) is None
    # the first source quoted sets the edge, whatever is quoted below it
    later_first = beyond(LATER, (by_file[NEWS_2022], by_file["2024-yhdyspintatyo-jatkuu-aktiivisena.txt"]), documents)
    assert later_first is not None and later_first.year == 2022
    # "now": the newest year's documents only
    now = beyond(NOW, (by_file[NEWS_2022],), documents)
    assert now is not None and now.newest == 2024 and {documents[doc].year for doc in now.documents} == {2024}


def test_the_quoted_documents_are_found_by_their_lines(assistant: Assistant) -> None:
    answer = assistant.ask(PROPOSAL)
    found = quoted_documents(answer.text, assistant.snapshot, assistant.retriever.queries)
    assert found == tuple(dict.fromkeys(citation.doc_id for citation in answer.citations))
    assert quoted_documents("Aineiston mukaan:\nJotain aivan muuta kuin aineistossa sanotaan [1]", assistant.snapshot,
                            assistant.retriever.queries) == ()


def test_what_happened_after_is_answered_from_later_documents(assistant: Assistant) -> None:
    first, later = _conversation(assistant, PROPOSAL, "Entä mitä siitä on tapahtunut sen jälkeen?")
    assert {citation.file for citation in first.citations} == {NEWS_2022}
    assert later.status == "answered" and later.citations, later.text
    assert all((_year(assistant, citation.file) or 0) > 2022 for citation in later.citations)
    assert later.meta["period"] == {"direction": LATER, "year": 2022, "documents": 4}
    assert "2022" not in later.meta["standalone_query"]
    assert later.text.startswith("Vuoden 2022 jälkeen julkaistujen lähteiden mukaan:\n")


def test_nothing_later_than_the_newest_sources_is_said_plainly(assistant: Assistant) -> None:
    answers = _conversation(assistant, PROPOSAL, "Entä mitä siitä on tapahtunut sen jälkeen?", "Entä sen jälkeen?")
    last = answers[-1]
    assert last.status == "not_found" and not last.citations
    assert last.meta["refusal"] == "no_later" and "vuoden 2024 jälkeen julkaistua tietoa" in last.text
    assert "uusimpia" in last.text


def test_a_chain_past_nothing_later_stays_past_it(assistant: Assistant) -> None:
    answers = _conversation(assistant, PROPOSAL, "Mitä sen jälkeen tapahtui?", "Entä sen jälkeen?", "Entä sen jälkeen?")
    assert [answer.meta.get("refusal") for answer in answers[2:]] == ["no_later", "no_later"]
    assert answers[-1].meta["period"]["year"] == 2024


def test_now_is_answered_from_the_newest_documents(assistant: Assistant) -> None:
    answer = _conversation(assistant, PROPOSAL, "Mikä on tilanne nyt?")[-1]
    assert answer.meta["period"] == {"direction": LATER, "year": 2022, "documents": 2, "newest": 2024}
    assert answer.citations and {_year(assistant, citation.file) for citation in answer.citations} == {2024}
    assert answer.text.startswith("Uusimpien, vuonna 2024 julkaistujen lähteiden mukaan:\n")


def test_going_on_after_a_later_answer_stays_in_its_years(assistant: Assistant) -> None:
    answers = _conversation(assistant, PROPOSAL, "Miten asia on edennyt?", "kerro lisää")
    assert answers[-1].meta["period"]["year"] == 2022
    assert all((_year(assistant, citation.file) or 0) > 2022 for citation in answers[-1].citations)


def test_later_sources_that_do_not_cover_the_topic_are_named_as_such() -> None:
    assert period_refusal("fi", LATER, 2022, 4) == (
        "Vuoden 2022 jälkeen julkaistuissa lähteissä (4) ei ole tietoa tästä aiheesta.")
    assert period_refusal("en", EARLIER, 2024, 1) == "The one source published before 2024 does not cover this."
    assert period_refusal("sv", LATER, 2022, 2, newest=2024) == (
        "Inga av de 2 senaste källorna, publicerade 2024, tar upp detta.")
    assert "most recent ones" in period_refusal("en", LATER, 2024, 0)


@pytest.mark.parametrize(("question", "words"), [
    ("Entä sitä ennen?", "ennen vuotta 2022 julkaistua tietoa"),
    ("What about before that?", "nothing on this published before 2022"),
])
def test_nothing_earlier_than_the_oldest_sources_is_said_plainly(assistant: Assistant, question: str,
                                                                 words: str) -> None:
    last = _conversation(assistant, PROPOSAL, question)[-1]
    assert last.status == "not_found" and last.meta["refusal"] == "no_earlier" and words in last.text


def test_a_summary_in_own_words_is_placed_by_answering_the_previous_question_again(assistant: Assistant) -> None:
    history = [Turn("user", PROPOSAL), Turn("assistant", "Kuntaliitto kutsui alueet yhteistyöhön [1].")]
    answer = assistant.ask("Miten asia on sittemmin edennyt?", history)
    assert answer.meta["period"]["year"] == 2022 and answer.citations, answer.text
    assert all((_year(assistant, citation.file) or 0) > 2022 for citation in answer.citations)


def test_a_question_that_stands_alone_is_not_filtered(assistant: Assistant) -> None:
    question = "Mitä Kuntaliitto ehdotti hyvinvointialueille nyt?"  # its own topic: no follow-up, no period
    answer = _conversation(assistant, "Ketkä rahoittavat yhdyspintaprojektia?", question)[-1]
    assert answer.meta["followup"] is False and "period" not in answer.meta


def test_an_answers_period_names_the_documents_it_was_read_from(assistant: Assistant) -> None:
    documents = assistant.snapshot.documents
    assert within({"period": {"direction": LATER, "year": 2022, "documents": 4}}, documents) == side(
        LATER, 2022, documents)
    assert {documents[doc].year for doc in side(EARLIER, 2024, documents)} == {2022, 2023}
    assert side(LATER, 2024, documents) == frozenset()
    assert within({"status": "answered"}, documents) is None


def test_the_evaluation_ranks_only_what_a_period_follow_up_reads(assistant: Assistant, tmp_path: Path) -> None:
    case = {"id": "later-1", "question": "Entä mitä sen jälkeen on tapahtunut?", "answerable": True,
            "history": [PROPOSAL, "Kuntaliitto kutsui hyvinvointialueiden puheenjohtajat yhteiseen tilaisuuteen [1]."],
            "sources": ["2024-yhdyspintatyo-jatkuu-aktiivisena.txt"], "evidence": [
                "Kuntien ja hyvinvointialueiden yhdyspintatyö jatkuu aktiivisena"],
            "answer_keywords": ["jatkuu"], "type": "followup"}
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(case, ensure_ascii=False) + "\n", encoding="utf-8")
    names = ("hybrid", "fusion", "dense", "bm25-lemma", "langchain-naive")
    retrievers = RetrieverSet(assistant, names)
    try:
        result = evaluate_question(assistant, retrievers, load_questions(path)[0], {})
    finally:
        retrievers.close()
    assert result.answer.meta["period"]["year"] == 2022
    for name in names:
        files = {item.file for item in result.ranked[name]}
        assert files and NEWS_2022 not in files, name


def test_the_api_says_which_years_it_read_and_when_there_are_none(live_server: str) -> None:
    history = [{"role": "user", "content": PROPOSAL},
               {"role": "assistant", "content": "Kuntaliitto kutsui alueet yhteistyöhön [1]."}]
    with httpx.Client(base_url=live_server, timeout=60) as http:
        later = http.post("/api/chat", json={"question": "What has happened since then?", "history": history}).json()
        assert later["status"] == "answered"
        assert later["answer"].startswith("According to sources published after 2022:")
        assert later["meta"]["period"] == {"direction": LATER, "year": 2022, "documents": 4}
        earlier = http.post("/api/chat", json={"question": "Entä sitä ennen?", "history": history}).json()
        assert earlier["status"] == "not_found" and earlier["citations"] == []
        assert earlier["meta"]["refusal"] == "no_earlier" and earlier["meta"]["period"]["documents"] == 0


def test_a_follow_up_only_by_the_previous_topic_asks_of_no_period(assistant: Assistant) -> None:
    # its own topic words and "nu": read on the previous topic only by sharing its passage, so no period applies
    answer = _conversation(assistant, "Vem finansierar samarbetsprojektet?",
                           "Vad gör välfärdsområdena nu inom sysselsättningen?")[-1]
    assert "period" not in answer.meta and answer.status == "answered"


def test_other_years_passages_off_the_topic_are_not_quoted(assistant: Assistant) -> None:
    answers = _conversation(assistant, "Mitä Kuntaliitto ehdotti hyvinvointialueille?",
                            "Entä mitä sen jälkeen on tapahtunut?", "Entä sen jälkeen?")
    assert answers[-1].meta["period"]["year"] == 2023
    assert "EU-vaaleissa" not in answers[-1].text  # a teaser of another subject at the end of the 2024 news item


def test_an_earlier_period_without_the_fact_asked_is_not_a_partial_answer(assistant: Assistant) -> None:
    answer = _conversation(assistant, "Mikä on Etelä-Karjalan väestöpohja?", "Entä sitä ennen?")[-1]
    assert answer.status == "not_found" and answer.meta["refusal"] == "no_earlier" and not answer.citations
    assert answer.text == "Ennen vuotta 2024 julkaistuissa lähteissä (3) ei ole tietoa tästä aiheesta."
