"""Follow-up questions: decided on the index's evidence, carried the same way by every interface."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from assistant.followup import (
    Evidence,
    asking_words,
    carried_words,
    is_name,
    opener,
    pointing_word,
    reads_as_followup,
)
from assistant.service import Assistant
from ingest.analyze import make_analyzer
from kysy.models import Answer, Turn
from kysy.settings import Settings

ANALYZER = make_analyzer()
POPULATION = "Mikä on Etelä-Karjalan väestöpohja?"
FUNDERS = "Ketkä rahoittavat yhdyspintaprojektia?"
BUDGET = "Paljonko Lapin hyvinvointialueen budjetti on vuonna 2025?"


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def _after(assistant: Assistant, *questions: str) -> Answer:
    """The answer to the last of ``questions``, asked after the others in one conversation."""
    history: list[Turn] = []
    answer = None
    for question in questions:
        answer = assistant.ask(question, history)
        history += [Turn("user", question), Turn("assistant", answer.text)]
    assert answer is not None
    return answer


def _first_source(answer: Answer) -> tuple[str, int | None]:
    assert answer.citations, answer.text
    return answer.citations[0].file, answer.citations[0].page


def test_a_new_place_replaces_the_previous_one() -> None:
    carried = carried_words("Entä Lapissa?", "Mitkä ovat Etelä-Karjalan pilotin painopisteet?", ANALYZER)
    assert carried == ["pilotin", "painopisteet"]


def test_a_question_pointing_back_at_a_person_keeps_the_earlier_name_beside_its_own() -> None:
    # "Kommunförbundet", capitalised, reads as a name of its own; "hon" is still the earlier person
    carried = carried_words("Vad säger hon att Kommunförbundet kan erbjuda?", "Vem är Minna Karhunen?", ANALYZER)
    assert carried == ["Minna", "Karhunen"]
    assert carried_words("Vad säger Kommunförbundet?", "Vem är Minna Karhunen?", ANALYZER) == []


def test_a_new_year_season_or_month_replaces_the_previous_one() -> None:
    assert carried_words("Entä keväällä?", "Milloin ovat syksyn yhdyspintafoorumit?", ANALYZER) == ["yhdyspintafoorumit"]
    assert carried_words("Entä vuonna 2024?", "Mitä Kuntaliitto ehdotti vuonna 2022?", ANALYZER) == ["Kuntaliitto", "ehdotti"]
    # a follow-up that names no period of its own keeps the earlier one
    assert "syksyn" in carried_words("Entä ikäihmisten palveluista?", "Milloin ovat syksyn yhdyspintafoorumit?", ANALYZER)


def test_a_follow_up_naming_another_time_asks_what_the_earlier_question_asked() -> None:
    assert asking_words("Entä keväällä?", "Milloin ovat syksyn yhdyspintafoorumit?") == ["Milloin", "ovat"]
    assert asking_words("Entä vuonna 2024?", "Mitä Kuntaliitto ehdotti vuonna 2022?") == ["Mitä"]
    assert asking_words("Entä väestöpohja?", "Kuinka monta kuntaa Etelä-Karjalassa on?") == []  # another thing asked
    assert asking_words("Milloin keväällä?", "Milloin ovat syksyn yhdyspintafoorumit?") == []  # its own question word
    assert asking_words("Entä keväällä?", "Syksyn yhdyspintafoorumit") == []  # the earlier one asked nothing
    # an opening of several words asks nothing itself: "what about" is not "what"
    when = "When are the autumn interface forums held?"
    assert asking_words("What about spring?", when) == ["When", "are", "the"]
    assert asking_words("And what about the spring?", when) == ["When", "are", "the"]
    assert asking_words("What about spring, who speaks?", when) == []  # asks its own question


def test_the_longest_opening_is_the_opener() -> None:
    assert opener("And what about Lapland?") == "and what about" and opener("Och hur är det med Lappland?") == "och"
    assert opener("Hur är det med Lappland?") == "hur är det med" and opener("Andra frågor?") == ""


def test_a_message_that_only_asks_to_go_on_is_a_follow_up_that_names_nothing() -> None:
    assert opener("Kerro lisää!") == "kerro lisää" and opener("Tell me more about it") == "tell me more about it"
    assert opener("Kerro lisää yhdyspintafoorumeista") == ""  # a topic of its own
    topic = "Mitkä ovat Lapin pilotin painopisteet?"
    assert carried_words("Tell me more", topic, ANALYZER) == ["Lapin", "pilotin", "painopisteet"]
    assert carried_words("Vad betyder det?", f"Tell me more {topic}", ANALYZER) == ["Lapin", "pilotin", "painopisteet"]


@pytest.mark.parametrize(
    ("question", "word"),
    [
        ("Mitä sen onnistuminen vaatii?", "sen"),
        ("Mitkä teemaryhmät siinä priorisoidaan?", "siinä"),  # a plural noun cannot be "siinä"
        ("Kuinka moni niistä on mukana pilotissa?", "niistä"),
        ("Minkä kautta hän ehdotti yhteistyön jatkamista?", "hän"),  # "kautta" is no person
        ("Kuka kommentoi aluepilotteja ja mitä hän niistä sanoi?", ""),  # "hän" is the person asked
        ("Mitä aineistot kertovat hyte-koordinaattoreista ja heidän määrästään?", ""),  # the coordinators
        ("Mitä heidän mukaansa pitää tehdä?", "heidän"),
        ("Mitä kuntaliitto sanoi ja mitä he tekivät?", "he"),  # a singular noun is not "he"
        ("Ketkä ovat mukana yhdyspintaprojektissa ja rahoittavat sitä?", ""),  # "sitä" is the project
        ("Mikä on Etelä-Karjalan väestöpohja ja paljonko henkilöstöä siellä on?", ""),
        # a hyphenated compound Voikko does not know is what its last part is: "neuvottelut", plural
        ("Milloin pidetään hyte-neuvottelut ja ketkä niihin osallistuvat?", ""),
        ("Milloin pidetään hyte-neuvottelu ja ketkä niihin osallistuvat?", "niihin"),
        ("Mitä Minna Karhunen sanoi siitä, mikä asukkaalle on olennaista?", ""),
        ("How many municipalities are there in South Karelia?", ""),  # "there" points nowhere
        ("Hur många kommuner finns det i Södra Karelen?", ""),
        ("What does it cost?", "it"),
        ("Who leads them?", "them"),  # a verb right before it stands for nothing
        ("Which regions are in the pilots and who leads them?", ""),
        # a demonstrative that is a preposition's object points back, "that" opening a clause or "det" as a
        # formal subject does not, nor "det här" naming its own
        ("Can you give an example of that?", "that"),
        ("Who should I contact if I want to take part in that work?", "that"),
        ("Can you tell me more about that case?", "that"),  # an English noun ending in "e" is no adjective
        ("Which regions are there that take part in the pilots?", ""),
        ("Har man tagit itu med det?", "det"),
        ("Kan du ge exempel på sådana mellan kommuner och välfärdsområden?", "sådana"),
        ("Finns det en plan för samarbetet?", ""),
        ("Vad görs i det här projektet?", ""),
        ("Under vilka år pågår utvecklingen av det strategiska samarbetet?", ""),  # an article before its adjective
        ("Kan andra aktörer vara med i det samarbetet?", "det"),
        ("Har förhandsbedömningen ökat, och vad har bidragit till det?", ""),  # the clause before the comma
        # an indefinite pronoun or a quantifier stands for nothing
        ("Anything more about it?", "it"),
        ("How many of them take part in the pilot?", "them"),
        ("How much does it cost?", "it"),
        ("Hur många av dem är med i piloten?", "dem"),
        ("How many municipalities are there and how many of them take part?", ""),
        ("What did Liisa Jurmu say and how does she see it?", ""),
    ],
)
def test_a_pointing_word_points_back_only_without_an_antecedent_in_the_question(question: str, word: str) -> None:
    assert pointing_word(question, ANALYZER) == word


def test_openers_are_whole_words_at_the_start() -> None:
    assert opener("Entä Lapissa?") == "entä"
    assert opener("What about Lapland?") == "what about"
    assert opener("Och i Lappland?") == "och"
    assert opener("Jatkuuko projekti?") == ""  # "ja" opens only as a word of its own


def test_the_rule_weighs_its_signals() -> None:
    plain = Evidence(opener="", pointing="", own_weight=5.0, topic_weight=5.0, alone=1.0, kept=1.0, topic=1.0,
                     on_topic_passage=True)
    assert reads_as_followup(plain, 0.7, 0.0, 0.9, 50)
    assert not reads_as_followup(Evidence(**{**plain.__dict__, "on_topic_passage": False}), 0.7, 0.0, 0.9, 50)
    assert not reads_as_followup(Evidence(**{**plain.__dict__, "kept": 0.5}), 0.7, 0.0, 0.9, 50)
    assert reads_as_followup(Evidence(**{**plain.__dict__, "kept": 0.0, "opener": "entä"}), 0.7, 0.0, 0.9, 50)
    assert reads_as_followup(Evidence(**{**plain.__dict__, "own_weight": 0.0, "on_topic_passage": False}),
                             0.7, 0.0, 0.9, 50)
    # nothing of its own that the materials hold, but a name of its own that they lack: a new topic
    assert not reads_as_followup(Evidence(**{**plain.__dict__, "own_weight": 0.0, "unheld_name": True}),
                                 0.7, 0.0, 0.9, 50)
    assert reads_as_followup(Evidence(**{**plain.__dict__, "own_weight": 0.0, "unheld_name": True, "opener": "entä"}),
                             0.7, 0.0, 0.9, 50)
    # without a pointing word or an opener, a question spelling out its own topic in many words stands alone
    assert reads_as_followup(Evidence(**{**plain.__dict__, "words": 3}), 0.7, 0.0, 0.9, 3)
    assert not reads_as_followup(Evidence(**{**plain.__dict__, "words": 4}), 0.7, 0.0, 0.9, 3)
    assert reads_as_followup(Evidence(**{**plain.__dict__, "words": 4, "pointing": "siellä"}), 0.7, 0.0, 0.9, 3)


def test_names_come_from_voikko_classes_or_capitals() -> None:
    assert is_name("Lapissa", ANALYZER) and is_name("Etelä-Karjalan", ANALYZER)
    assert not is_name("pilotin", ANALYZER) and not is_name("Mitkä", ANALYZER, sentence_initial=True)


def test_a_standalone_question_after_another_topic_stands_alone(assistant: Assistant) -> None:
    answer = _after(assistant, POPULATION, FUNDERS)
    assert answer.meta["followup"] is False and answer.meta["standalone_query"] == FUNDERS
    assert _first_source(answer)[1] == 3 and "Hyvil" in answer.text


def test_a_question_spelling_out_its_own_topic_stands_alone_even_on_the_earlier_topics_passage(
        assistant: Assistant) -> None:
    question = "Mitä yhdyspintaprojektissa tuotetaan kuntien ja hyvinvointialueiden tueksi?"
    answer = _after(assistant, "Mitkä ovat projektissa priorisoitavat yhdyspinnat eli teemaryhmät?", question)
    assert answer.meta["followup"] is False and answer.meta["standalone_query"] == question
    assert _first_source(answer) == _first_source(assistant.ask(question))


def test_a_standalone_question_after_a_refusal_is_answered(assistant: Assistant) -> None:
    answer = _after(assistant, BUDGET, FUNDERS)
    assert not answer.not_found and answer.meta["followup"] is False
    assert _first_source(answer)[1] == 3 and "Hyvil" in answer.text


def test_an_elliptic_question_keeps_the_topic(assistant: Assistant) -> None:
    answer = _after(assistant, POPULATION, "Entä henkilöstön määrä?")
    assert answer.meta["followup"] is True and "Etelä-Karjala" in str(answer.meta["standalone_query"])
    assert _first_source(answer)[1] == 9 and "5500" in answer.text


def test_a_chain_of_follow_ups_keeps_the_first_topic(assistant: Assistant) -> None:
    answer = _after(assistant, "Mitkä ovat Etelä-Karjalan pilotin painopisteet?", "Entä Lapissa?", "Ja keneen voi ottaa yhteyttä?")
    assert answer.meta["followup"] is True and "Lapissa" in answer.meta["standalone_query"]
    # The search lands on the Lapland pilot's slide, where its contact person is (whether the answer
    # engine then quotes it is the answer engine's matter, measured by the evaluation).
    assert answer.retrieved and (answer.retrieved[0].chunk.page, "Sami Niemi" in answer.retrieved[0].chunk.text) == (12, True)


def test_a_follow_up_in_english_reaches_the_finnish_slide(assistant: Assistant) -> None:
    answer = _after(assistant, "Mitkä ovat Etelä-Karjalan pilotin painopisteet?", "What about Lapland?")
    assert answer.meta["followup"] is True and _first_source(answer)[1] == 12


def test_english_and_swedish_follow_ups_pointing_back_keep_their_topic(assistant: Assistant) -> None:
    answer = _after(assistant, "Is there anything that works well in practice?", "Can you give an example of that?")
    assert answer.meta["followup"] is True
    assert _first_source(answer)[0] == "2023-suositukset-strategiseen-johtamiseen-paivitetty.txt"
    answer = _after(assistant, "Vem är Minna Karhunen?", "Vad säger hon att Kommunförbundet kan erbjuda välfärdsområdena?")
    assert answer.meta["followup"] is True and "Minna Karhunen" in answer.meta["standalone_query"]
    assert _first_source(answer)[0] == "2022-kuntaliitto-ehdottaa-hyvinvointialueille-yhteistyota.txt"


@pytest.fixture(scope="module")
def client(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=60) as http:
        yield http


def _history(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [message for question, answer in pairs for message in (
        {"role": "user", "content": question}, {"role": "assistant", "content": answer})]


@pytest.mark.parametrize(
    ("earlier", "question", "followup", "page"),
    [((POPULATION, "Väestöpohja 127 000 [1]"), FUNDERS, False, 3),
     ((POPULATION, "Väestöpohja 127 000 [1]"), "Entä henkilöstön määrä?", True, 9)],
)
def test_every_interface_carries_the_conversation_the_same_way(
    client: httpx.Client, earlier: tuple[str, str], question: str, followup: bool, page: int
) -> None:
    history = _history(earlier)
    plain = client.post("/api/chat", json={"question": question, "history": history}).json()
    with client.stream("POST", "/api/chat", json={"question": question, "history": history},
                       headers={"Accept": "text/event-stream"}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    streamed = json.loads(lines[-1].removeprefix("data:"))
    completion = client.post("/v1/chat/completions", json={
        "model": "kysy", "messages": [*history, {"role": "user", "content": question}]}).json()
    for body in (plain, streamed, completion["kysy"]):
        assert body["meta"]["followup"] is followup and body["meta"]["standalone_query"]
        assert body["citations"][0]["page"] == page
    # The OpenAI message is the answer, then its numbered sources (for clients that show only the text).
    assert completion["choices"][0]["message"]["content"].startswith(plain["answer"] + "\n\n**")


def test_a_follow_up_asking_another_season_is_not_answered_with_the_earlier_seasons_dates(assistant: Assistant) -> None:
    answer = _after(assistant, "Milloin ovat syksyn yhdyspintafoorumit?", "Entä keväällä?")
    assert answer.meta["followup"] is True and "syksyn" not in answer.meta["standalone_query"]
    assert answer.status != "answered" and "29.9." not in answer.text


def test_a_place_typed_in_lower_case_in_a_follow_up_is_still_another_place(assistant: Assistant) -> None:
    answer = _after(assistant, POPULATION, "entä lapissa?")
    assert answer.meta["followup"] is True and answer.status != "answered" and "127 000" not in answer.text


@pytest.mark.parametrize(("go_on", "language"), [("Tell me more", "en"), ("Berätta mer", "sv"), ("kerro lisää", "fi")])
def test_asking_for_more_keeps_the_topic_and_is_answered_in_the_language_asked(
        assistant: Assistant, go_on: str, language: str) -> None:
    first = assistant.ask("Mitkä ovat Lapin pilotin painopisteet?")
    answer = _after(assistant, "Mitkä ovat Lapin pilotin painopisteet?", go_on)
    assert answer.meta["followup"] is True and "Lapin" in answer.meta["standalone_query"]
    assert answer.language == language and answer.citations and not _quotes(first) & _quotes(answer)


def test_a_question_naming_a_place_the_materials_lack_is_not_read_into_the_previous_topic(assistant: Assistant) -> None:
    answer = _after(assistant, "Kuinka monta yhdyspintafoorumia syksyllä järjestetään?", "Vad är Pirkanmaas budget?")
    assert answer.meta["followup"] is False and answer.status == "not_found" and "29.9." not in answer.text


def test_a_number_after_an_opener_is_a_follow_up_not_small_talk(assistant: Assistant) -> None:
    answer = _after(assistant, "Mitä Kuntaliitto ehdotti hyvinvointialueille vuonna 2022?", "Och 2024?")
    assert answer.meta.get("refusal") != "smalltalk" and answer.meta["followup"] is True


def _quotes(answer: Answer) -> set[str]:
    return {citation.quote for citation in answer.citations}


def test_asking_for_more_quotes_what_was_not_quoted_yet(assistant: Assistant) -> None:
    history: list[Turn] = []
    quoted: list[set[str]] = []
    for question in ("Mikä on Etelä-Karjalan väestöpohja?", "kerro lisää", "kerro lisää"):
        answer = assistant.ask(question, history)
        assert answer.status == "answered" and answer.citations, answer.text
        quoted.append(_quotes(answer))
        history += [Turn("user", question), Turn("assistant", answer.text)]
    assert not quoted[0] & quoted[1] and not (quoted[0] | quoted[1]) & quoted[2]
    assert "kuntaa" not in answer.meta["standalone_query"].split()[:2]  # no earlier fact is asked again


def test_asking_for_more_when_everything_was_quoted_says_so(assistant: Assistant) -> None:
    everything = "\n".join(chunk.text for chunk in assistant.snapshot.chunks)
    history = [Turn("user", POPULATION), Turn("assistant", everything)]
    for go_on, reply in (("kerro lisää", "Aineistossa ei ole tästä enempää"), ("Tell me more", "say no more")):
        answer = assistant.ask(go_on, history)
        assert answer.status == "not_found" and answer.meta["refusal"] == "no_more" and reply in answer.text


@pytest.mark.parametrize(("earlier", "question"), [
    ("Who funds the project?", "Which regions are in the pilots?"),
    ("Vem finansierar projektet?", "Vilka regioner deltar i pilotprojekten?"),
])
def test_a_question_of_its_own_on_the_same_slide_is_not_answered_with_the_previous_quote_again(
        assistant: Assistant, earlier: str, question: str) -> None:
    previous = assistant.ask(earlier)
    answer = _after(assistant, earlier, question)
    assert answer.meta["followup"] is False and answer.meta["standalone_query"] == question
    assert "repeated the previous answer" in answer.meta["followup_reason"]
    assert not _quotes(previous) & {answer.citations[0].quote}
    assert _first_source(answer) == _first_source(assistant.ask(question))


def test_an_elliptic_question_on_the_previous_slide_stays_a_follow_up_when_it_brings_something_new(
        assistant: Assistant) -> None:
    answer = _after(assistant, "Mitkä ovat Lapin pilotin painopisteet?", "Keneen voin olla yhteydessä pilotista?")
    assert answer.meta["followup"] is True and "Lapin" in answer.meta["standalone_query"]
    assert _first_source(answer)[1] == 12 and "Sami Niemi" in answer.text


def test_asking_for_more_quotes_nothing_an_earlier_topic_quoted(assistant: Assistant) -> None:
    history: list[Turn] = []
    quoted: set[str] = set()
    for question in ("Mitkä muut lait yhdistävät kuntia ja hyvinvointialueita kuntalain lisäksi?",
                     "Mitkä toimijat ovat jo lain nojalla sekä kuntien että hyvinvointialueiden yhteisiä?"):
        answer = assistant.ask(question, history)
        quoted |= _quotes(answer)
        history += [Turn("user", question), Turn("assistant", answer.text)]
    answer = assistant.ask("Tell me more", history)
    assert answer.citations and not quoted & _quotes(answer)
