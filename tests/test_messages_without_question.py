"""What a real visitor types besides a clean question: markup pasted along, a self-introduction before the
question, thanks, a greeting, a bare "?" or emoji. Asked of the real assistant on the bundled corpus and
over HTTP on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from assistant.inputs import preamble, prepare_question, without_markup
from assistant.service import Assistant
from assistant.smalltalk import smalltalk_kind
from eval.questionset import load_questions
from kysy.models import Answer, Turn
from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"
POPULATION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def _cites_slide_9(answer: Answer) -> bool:
    return bool(answer.citations) and (answer.citations[0].file, answer.citations[0].page) == (PDF, 9)


# --- markup -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "plain"), [
    ("<script>alert(1)</script> Mikä on X?", "Mikä on X?"),
    ("<p>Mikä on <b>X</b>?</p>", "Mikä on X ?"),
    ("<style>p {color: red}</style><!-- note -->Mitä?", "Mitä?"),
    ("Onko osuus < 5 % vai <3?", "Onko osuus < 5 % vai <3?"),  # nothing shaped like a tag: untouched
    ("Mikä on &amp;?", "Mikä on &amp;?"),
])
def test_markup_is_taken_out_and_plain_text_left_alone(text: str, plain: str) -> None:
    assert without_markup(text) == plain


def test_a_question_behind_a_script_tag_is_answered_as_the_question(assistant: Assistant) -> None:
    plain = assistant.ask(POPULATION)
    tagged = assistant.ask(f"<script>alert(1)</script> {POPULATION}")
    assert tagged.status == plain.status == "answered"
    assert _cites_slide_9(tagged) and tagged.text == plain.text
    assert "<script" not in str(tagged.meta["query"])


def test_only_markup_is_a_clear_422(live_server: str) -> None:
    response = httpx.post(f"{live_server}/api/chat", json={"question": "<script>alert(1)</script>"}, timeout=30)
    assert response.status_code == 422
    assert "markup" in response.json()["message"]


# --- an opening before the question -------------------------------------------------------------------

INTRODUCED = ("Hei! Olen Lappeenrannan kaupungin hyte-koordinaattori ja valmistelen valtuustolle esitystä alueen "
              "yhteistyöstä. Voisitko kertoa, mikä on Etelä-Karjalan väestöpohja ja montako kuntaa alueella on?")


@pytest.mark.parametrize(("text", "split"), [
    (INTRODUCED, (INTRODUCED[: INTRODUCED.index(" Voisitko")], INTRODUCED[INTRODUCED.index("Voisitko"):])),
    ("Mihin kellonaikaan 15.12. pidettävä foorumi alkaa?", ("", "Mihin kellonaikaan 15.12. pidettävä foorumi alkaa?")),
    ("Mikä on X? Entä Y?", ("", "Mikä on X? Entä Y?")),  # the first sentence asks: no opening
    ("Olen virkamies. Kerro aluepiloteista.", ("", "Olen virkamies. Kerro aluepiloteista.")),  # none asks
    ("Our municipality would like to join. Who should we contact?",
     ("Our municipality would like to join.", "Who should we contact?")),
])
def test_the_opening_is_the_sentences_before_the_first_that_asks(text: str, split: tuple[str, str]) -> None:
    assert preamble(text) == split


def test_a_self_introduction_before_the_question_does_not_get_it_refused(assistant: Assistant) -> None:
    answer = assistant.ask(INTRODUCED)
    assert answer.status == "answered" and _cites_slide_9(answer)
    assert "127 000" in answer.text and "9 kuntaa" in answer.text
    assert str(answer.meta["query"]).startswith("Voisitko kertoa")


def test_a_long_opening_does_not_push_the_question_out_of_the_search_budget(
    assistant: Assistant, corpus_index: Settings
) -> None:
    opening = "Valmistelen valtuustolle laajaa esitystä alueemme yhteistyöstä ja sen kehittämisestä. " * 4
    message = f"Hei! {opening}Voisitko kertoa, mikä on Etelä-Karjalan väestöpohja?"
    assert len(message) > corpus_index.question_budget_chars
    question, _ = prepare_question(message, [], corpus_index)
    assert question.endswith("Voisitko kertoa, mikä on Etelä-Karjalan väestöpohja?")
    assert len(question) <= corpus_index.question_budget_chars
    answer = assistant.ask(message)
    assert answer.status == "answered" and _cites_slide_9(answer) and "127 000" in answer.text


def test_an_opening_the_question_leans_on_is_carried_over(assistant: Assistant) -> None:
    # "se kolmas alue" points back at the opening: the question is read with it, and the materials name
    # only two pilot regions, so it stays refused
    answer = assistant.ask("Etelä-Karjalan ja Lapin lisäksi aluepilotteja tehdään vielä yhdellä "
                           "hyvinvointialueella. Mikä se kolmas alue on?")
    assert answer.status == "not_found"


# --- small talk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "history", "kind"), [
    ("kiitos!", False, "thanks"),
    ("Kiitos paljon :)", True, "thanks"),
    ("Tack så mycket", False, "thanks"),
    ("Hei", False, "greeting"),
    ("Hei, kuka olet ja mitä osaat?", False, "greeting"),
    ("Who are you?", False, "help"),
    ("Mitä osaat kertoa?", False, "help"),
    ("Vad kan du berätta?", False, "help"),
    ("Kerro aluepiloteista", False, None),
    ("?", False, "help"),
    ("🤔🤔🤔", True, "help"),
    ("Kuka?", True, None),  # after earlier turns a bare question word is a follow-up
    ("Kuka rahoittaa?", False, None),
    ("Mitä osaat kertoa aluepiloteista?", False, None),
    ("Hei, mikä on Etelä-Karjalan väestöpohja?", False, None),
    ("mitä tarkoitat?", True, "clarify"),  # after an answer as well: it asks what the assistant meant
    ("What do you mean by that?", True, "clarify"),
    ("Vad menar du?", False, "clarify"),
    ("Mitä tarkoittaa yhdyspinta?", True, None),
])
def test_small_talk_is_a_message_of_small_talk_words_only(text: str, history: bool, kind: str | None) -> None:
    assert smalltalk_kind(text, history) == kind


def test_no_question_of_the_question_sets_is_small_talk() -> None:
    questions = [q for path in sorted((ROOT / "eval").glob("questions.*.jsonl")) for q in load_questions(path)]
    assert len(questions) > 1500
    assert [q.id for q in questions if smalltalk_kind(q.question, bool(q.history))] == []


@pytest.mark.parametrize(("text", "language", "opening"), [
    ("kiitos!", "fi", "Ole hyvä!"),
    ("Hei, kuka olet ja mitä osaat?", "fi", "Hei!"),
    ("Tack så mycket", "sv", "Varsågod!"),
    ("Who are you?", "en", "I answer questions"),
    ("?", "fi", "Vastaan kysymyksiin"),
    ("Hej!", "sv", "Hej!"),  # a Swedish greeting, although Voikko knows the word
    ("Hei!", "fi", "Hei!"),
])
def test_small_talk_gets_a_reply_in_its_language_and_no_quotes(
    assistant: Assistant, text: str, language: str, opening: str
) -> None:
    answer = assistant.ask(text)
    assert answer.text.startswith(opening) and answer.language == language
    assert answer.citations == () and answer.status == "not_found" and answer.meta["refusal"] == "smalltalk"
    assert "Kuntien ja hyvinvointialueiden yhteistyö ja yhdyspinnat" in answer.text  # a document's title


@pytest.mark.parametrize(("text", "language", "reply"), [
    ("mitä tarkoitat?", "fi", "suoria lainauksia"), ("What do you mean?", "en", "word for word"),
    ("Vad menar du med det?", "sv", "direkta citat"),
])
def test_asking_what_the_assistant_meant_is_told_what_its_answers_are(
    assistant: Assistant, text: str, language: str, reply: str
) -> None:
    history = [Turn("user", "Kuka rahoittaa yhdyspintaprojektia?"),
               Turn("assistant", assistant.ask("Kuka rahoittaa yhdyspintaprojektia?").text)]
    answer = assistant.ask(text, history)
    assert answer.meta["refusal"] == "smalltalk" and answer.citations == () and answer.language == language
    assert reply in answer.text and "tarkoitetaan" not in answer.text  # no definition sharing the word


def test_thanks_after_an_answer_is_small_talk_and_a_bare_question_word_a_follow_up(assistant: Assistant) -> None:
    history = [Turn("user", "Kuka vetää Lapin pilottia?"), Turn("assistant", "Aineiston mukaan: ...")]
    assert assistant.ask("Kiitos!", history).meta["refusal"] == "smalltalk"
    assert assistant.ask("Entä kuka Etelä-Karjalassa?", history).meta.get("refusal") != "smalltalk"


def test_the_api_says_small_talk_is_no_failed_search(live_server: str) -> None:
    body = httpx.post(f"{live_server}/api/chat", json={"question": "kiitos!"}, timeout=30).json()
    assert body["status"] == "not_found" and body["citations"] == []
    assert body["meta"]["refusal"] == "smalltalk" and body["answer"].startswith("Ole hyvä!")
