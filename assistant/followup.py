"""Follow-up questions: whether a question leans on the previous turn, decided on the index's evidence.

A question stands alone when it names its own topic ("Ketkä rahoittavat yhdyspintaprojektia?" after
anything); it is a follow-up when it leans on the previous turn: an ellipsis ("Entä Lapissa?"), a
pointing word ("Mitä siellä tehtiin?"), or no topic words of its own that the materials hold.

The decision reads two readings of the question with the keyword index (no vectors, so it is cheap):

- *alone*: the question's own content words searched alone; ``alone`` is the largest idf-weighted
  share of them that one of the best passages holds;
- *merged*: the question with the previous turn's topic words carried over (``carried_words``); ``kept`` is
  the share of the question's own words that the merged reading's best passage still holds,
  ``topic`` the share of the carried topic words it holds, and ``on_topic_passage`` whether it is
  the passage the topic words alone find best (the conversation stays on the same passage).

A question that opens as a follow-up ("Entä …", "What about …": ``words/openers.txt``) is one, and so
are a message that only asks to go on ("kerro lisää", "Tell me more": ``words/go_on.txt``), a question that
asks what came later or earlier with at most ``TIME_WORDS`` content words besides ("Mitä tapahtui
myöhemmin?": ``words/time_direction.txt``, answered from other years' documents by ``assistant/timeline.py``)
and a question with no topic words of its own that the materials hold, unless it names a place, a person
or an organisation the materials lack ("Vad är Pirkanmaas budget?" asks of Pirkanmaa, not of the previous
topic). Such a phrase that points back ("sittemmin", "since then") counts as a pointing word. Otherwise a
merged reading must keep the question's own words: ``kept`` at least
``followup_keep_pointing`` of ``alone`` for a question that points back (``words/pointing.txt``: "siellä",
"niiden", "it"; see ``pointing_word``), and at least ``followup_keep`` of it for one that does not, which must also stay on the previous
topic's own passage and find the topic there (``topic`` at least ``followup_topic``): in a small
collection most passages hold a few common topic words. Such a question must also be short, at most
``followup_words`` content words: an elliptical follow-up ("Millä periaatteilla pilotit toimivat?")
leaves its topic out, a question of its own ("Onko kuntien ja hyvinvointialueiden yhteistyö jo
strategisella tasolla?") spells it out. The four thresholds are settings, fitted on the question
set's conversation cases and the five fitted sets' standalone questions asked after unrelated turns
(``eval/followup_fit.py``).

The previous turn's topic is that turn's own standalone form, so chains of follow-ups
("Entä Lapissa?", then "Entä henkilöstö?") keep their topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.entities import periods
from assistant.lexicon import WORD, opening_words, word_set, word_table
from assistant.query import Query, QueryBuilder, concept_weights, holds, question_names
from assistant.timeline import points_back, time_direction, without_phrase
from ingest import stopwords
from ingest.analyze import Analyzer
from ingest.keyword import KeywordIndex
from kysy.models import Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# Passages of the alone reading searched for the question's own words.
ALONE_PASSAGES = 3
# Content words besides its phrase asking later or earlier (``words/time_direction.txt``) that leave a question
# elliptic ("Mitä tapahtui myöhemmin?", "Miten asia on edennyt?"); "hyte kenen vastuulla nyt" names its topic.
TIME_WORDS = 1
# Earlier user turns whose topics are followed (a chain of follow-ups).
CHAIN_TURNS = 3
_NAME_CLASSES = frozenset({"paikannimi", "etunimi", "sukunimi", "nimi"})
_PERSON_CLASSES = frozenset({"etunimi", "sukunimi", "nimi"})
_NOUN_CLASSES = _NAME_CLASSES | {"nimisana"}
_ASKS_WHOM = frozenset({"person", "who"})  # question kinds (words/question_kinds.txt) of "kuka", "ketkä"
# with the glossary's function words ("will") and the indefinites ("anything", "many"): no topic of their own,
# nothing a pointing word stands for
_NOT_CONTENT = (stopwords.ALL | stopwords.QUESTION_WORDS | word_set("function_words.en") | word_set("function_words.sv")
                | word_set("indefinites"))
_ASKING = stopwords.QUESTION_WORDS - {"entä"}  # the words that ask ("entä" only opens a follow-up)


@dataclass(frozen=True)
class Evidence:
    """What the question's words and the keyword index say of the two readings (see the module docstring)."""

    opener: str  # the follow-up opening the question starts with ("entä"), "" when none
    pointing: str  # the first pointing word of the question ("siellä"), "" when none
    own_weight: float  # idf weight of the question's own words that the materials hold
    topic_weight: float  # idf weight of the carried topic words that the materials hold
    alone: float
    kept: float
    topic: float
    on_topic_passage: bool = False  # the merged reading's best passage is the topic's own best passage
    words: int = 0  # the question's own content words
    unheld_name: bool = False  # the question names a place, a person or an organisation the materials lack
    # asks later or earlier with at most ``TIME_WORDS`` content words besides ("Mitä tapahtui myöhemmin?")
    elliptic_time: bool = False

    def describe(self) -> str:
        """The signals in one line, for ``meta``."""
        words = [f"{name} {value!r}" for name, value in (("opens with", self.opener), ("points back with", self.pointing)) if value]
        if self.elliptic_time:
            words.append("asks later or earlier in few words")
        return ", ".join([*words, f"alone={self.alone:.2f} kept={self.kept:.2f} topic={self.topic:.2f} words={self.words}"])


@dataclass(frozen=True)
class Resolution:
    """A question as asked, the question searched, whether it was read as a follow-up, and why."""

    question: str
    standalone: str
    followup: bool
    reason: str
    # A follow-up only by sharing the previous topic's passage (no opener, no pointing word, topic words of its
    # own, not a short question asking later or earlier): the weakest reading, which ``Assistant.respond`` drops
    # when its answer only repeats the previous one, and which asks of no other period.
    by_topic: bool = False


class FollowupResolver:
    """Decides follow-ups against one keyword index (see the module docstring)."""

    def __init__(self, queries: QueryBuilder, keyword: KeywordIndex, analyzer: Analyzer, settings: Settings) -> None:
        self.queries = queries
        self.keyword = keyword
        self.analyzer = analyzer
        self.thresholds = (settings.followup_keep, settings.followup_keep_pointing, settings.followup_topic,
                           settings.followup_words)

    def resolve(
        self, question: str, history: Sequence[Turn], language: str | None = None, *, generator: Any = None
    ) -> Resolution:
        """The standalone form of ``question`` after ``history`` (oldest first).

        With a language model (``generator``), a question read as a follow-up is condensed by the
        model; an empty result or an error keeps the rule's rewrite.
        """
        asked = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
        if not asked:
            return Resolution(question, question, False, "no earlier question")
        resolution = self.decide(question, self.topic_of(asked), language)
        if resolution.followup and generator is not None:
            condensed = _condense(generator, question, history)
            if condensed:
                return Resolution(question, condensed, True, resolution.reason + "; condensed by the model")
        return resolution

    def topic_of(self, asked: Sequence[str]) -> str:
        """The standalone form of the last of the earlier questions ``asked`` (oldest first), following
        a chain of follow-ups back at most ``CHAIN_TURNS`` questions."""
        chain = list(asked[-CHAIN_TURNS:])
        topic = chain[0]
        for earlier in chain[1:]:
            topic = self.decide(earlier, topic, None).standalone
        return topic

    def decide(self, question: str, topic: str, language: str | None) -> Resolution:
        """Whether ``question`` follows on from ``topic`` (an earlier question in standalone form)."""
        carried = carried_words(question, topic, self.analyzer)
        if not carried:
            return Resolution(question, question, False, "the previous question adds no topic words")
        merged = " ".join([question.strip(), *asking_words(question, topic), *carried])
        signals = self.evidence(question, " ".join(carried), language)
        if reads_as_followup(signals, *self.thresholds):
            own = "" if signals.own_weight else "no topic words of its own in the materials; "
            by_topic = not signals.opener and not signals.pointing and not signals.elliptic_time and signals.own_weight > 0
            return Resolution(question, merged, True, own + signals.describe(), by_topic)
        return Resolution(question, question, False, "stands alone; " + signals.describe())

    def evidence(self, question: str, topic: str, language: str | None = None) -> Evidence:
        """The keyword evidence of the question alone and merged with the ``topic`` words carried over."""
        own = self.queries.build(question, language, embed=False)
        own_weights = self._held_weights(own)
        carried = self.queries.build(topic, language, embed=False)
        topic_weights = self._held_weights(carried)
        alone_rows = self._rows(own, ALONE_PASSAGES)
        merged_rows = self._rows(self.queries.build(f"{question} {topic}", language, embed=False), 1)
        alone = max((_share(own, own_weights, self.keyword, row) for row in alone_rows), default=0.0)
        best = merged_rows[0] if merged_rows else None
        topic_rows = self._rows(carried, 1)
        return Evidence(
            opener=opener(question),
            pointing=pointing_word(question, self.analyzer) or points_back(question),
            own_weight=sum(own_weights.values()),
            topic_weight=sum(topic_weights.values()),
            alone=alone,
            kept=_share(own, own_weights, self.keyword, best) if best is not None else 0.0,
            topic=_share(carried, topic_weights, self.keyword, best) if best is not None else 0.0,
            on_topic_passage=best is not None and topic_rows[:1] == [best],
            words=len(self.analyzer.content_lemmas(question)),
            elliptic_time=bool(time_direction(question))
            and len(self.analyzer.content_lemmas(without_phrase(question))) <= TIME_WORDS,
            unheld_name=any(not self.keyword.document_frequency(name) and not self.keyword.document_frequency(name[:-1])
                            for name in question_names(question, self.analyzer)),  # "Kuntaliittos" is held
        )

    def on_topic(self, topic: str, language: str | None = None) -> Callable[[str], bool]:
        """Whether a text holds one of ``topic``'s concepts that the materials hold, or a compound concept's head
        ("pilotointeja" for "aluepilotointien"); any text does when the topic has none."""
        query = self.queries.build(topic, language, embed=False)
        forms = {form for lemma in self._held_weights(query)
                 for form in (*query.variants(lemma), self.analyzer.analyze_word(lemma).head) if form}
        return lambda text: not forms or not forms.isdisjoint(self.analyzer.terms(text))

    def _held_weights(self, query: Query) -> dict[str, float]:
        """idf weights of the query's concepts that some passage holds."""
        indexed = self.keyword.document_frequency
        weights = concept_weights(query, self.keyword)
        return {lemma: w for lemma, w in weights.items() if any(indexed(form) for form in query.variants(lemma))}

    def _rows(self, query: Query, top_k: int) -> list[int]:
        return [hit.row for hit in self.keyword.search(query.terms, top_k)] if query.terms else []


def reads_as_followup(evidence: Evidence, keep: float, keep_pointing: float, topic: float, words: int) -> bool:
    """The decision rule of the module docstring, with its four thresholds."""
    if evidence.opener or evidence.elliptic_time:
        return True
    if evidence.own_weight == 0:  # unless it names something of its own ("Vad är Pirkanmaas budget?")
        return not evidence.unheld_name
    if evidence.pointing:
        return evidence.kept >= keep_pointing * evidence.alone
    return evidence.on_topic_passage and evidence.kept >= keep * evidence.alone and evidence.topic >= topic \
        and evidence.words <= words


def _share(query: Query, weights: Mapping[str, float], keyword: KeywordIndex, row: int) -> float:
    """The idf-weighted share of ``weights``' concepts that passage ``row`` holds."""
    total = sum(weights.values())
    if not total:
        return 0.0
    forms = sorted({form for lemma in weights for form in query.variants(lemma)})
    terms = keyword.matched_terms(row, forms)
    return sum(w for lemma, w in weights.items() if holds(query, lemma, terms)) / total


def opener(question: str) -> str:
    """The follow-up opening ``question`` starts with (``words/openers.txt``: "entä", "what about"), or the whole
    question when it only asks to go on (``words/go_on.txt``: "kerro lisää", "Tell me more"), or ""."""
    words = [match.group().lower() for match in WORD.finditer(question)]
    if " ".join(words) in word_set("go_on"):  # asks_for_more, on the words read once
        return " ".join(words)
    return " ".join(words[:opening_words(words)])


def pointing_word(question: str, analyzer: Analyzer) -> str:
    """The first word of ``question`` that points back (``words/pointing.txt``: "siellä", "it"), or "".

    A pointing word that an earlier word of the question can stand for points inside the question
    ("Ketkä ovat mukana hankkeessa ja rahoittavat sitä?"), not back: a noun of the same number for
    "sitä" or "niistä", a name or the question word asking whom for "hän" ("Kuka kommentoi ..., mitä hän
    sanoi?"), the same or a plural noun for "heidän", a place name or noun for "siellä", any content word
    for a Swedish or English pointing word. A word that points back only as a preposition's object ("an
    example of that", "med det") points back there, and nowhere else.
    """
    return _pointing(question, analyzer)[0]


def _pointing(question: str, analyzer: Analyzer) -> tuple[str, str]:
    """The first word of ``question`` that points back and its kind (``words/pointing.txt``), or ("", "")."""
    pointing = word_table("pointing")
    matches = list(WORD.finditer(question))
    words = [match.group() for match in matches]
    lowered = [word.lower() for word in words]
    for i, word in enumerate(lowered):
        kind = pointing.get(word, "")
        if kind == "object":  # "an example of that", "med det"; not "finns det", "i det här", "av det nya"
            after = lowered[i + 1] if i + 1 < len(lowered) else ""
            article = word == "det" and after.endswith(("a", "e"))  # "av det strategiska", not "about that case"
            if i and lowered[i - 1] in word_set("prepositions") and after not in ("här", "där") and not article \
                    and not _earlier_clause(question[:matches[i].start()], analyzer):
                return word, kind
            continue
        read = "any" if kind == "someone" else kind
        # a Swedish or English word right before it is its verb or preposition ("Who leads them?"), read
        # without a morphology that could tell a noun: it stands for nothing
        before = words[:i - 1] if read == "any" else words[:i]
        if read and not any(_stands_for(read, earlier, j == 0, analyzer) for j, earlier in enumerate(before)):
            return word, kind
    return "", ""


def _earlier_clause(head: str, analyzer: Analyzer) -> bool:
    """Whether ``head``, the question up to a pointing word, holds a clause before a comma with a content word
    the pointing word can stand for: "Har kommunerna börjat använda förhandsbedömning mer, och vad kan ha
    bidragit till det?" points inside."""
    if "," not in head:
        return False
    clause = [match.group() for match in WORD.finditer(head[:head.rindex(",")])]
    return any(_stands_for("any", earlier, j == 0, analyzer) for j, earlier in enumerate(clause))


def _stands_for(kind: str, word: str, sentence_initial: bool, analyzer: Analyzer) -> bool:
    """Whether ``word`` can be what a pointing word of ``kind`` (sg, pl, place, person, people, any) stands for."""
    lowered = word.lower()
    if kind in ("person", "people") and _ASKS_WHOM & set(word_table("question_kinds").get(lowered, "").split(",")):
        return True  # the person the question asks for
    if lowered in _NOT_CONTENT or word_table("pointing").get(lowered) is not None:
        return False
    analysis = analyzer.analyze_word(lowered)
    if not analysis.classes and "-" in lowered:  # "hyte-neuvottelut": a compound is what its last part is
        analysis = analyzer.analyze_word(lowered.rsplit("-", 1)[1])
    if not analysis.classes:  # not analysed (an unknown name such as "Hyvil", or no Voikko)
        return kind == "any" or is_name(word, analyzer, sentence_initial)
    nouns = set(analysis.classes) & _NOUN_CLASSES
    if kind in ("person", "people") and set(analysis.classes) & _PERSON_CLASSES:
        return True
    if kind == "person":
        return False
    if kind in ("place", "any"):
        return bool(nouns)
    return bool(nouns) and ("singular" if kind == "sg" else "plural") in analysis.numbers


def carried_words(question: str, topic: str, analyzer: Analyzer) -> list[str]:
    """The topic words of ``topic`` (an earlier question) that a follow-up ``question`` takes over.

    Those are the earlier question's content words, except those the new question already has and,
    when the new question names its own place or person (and points back at no person: "Vad säger hon om
    Kommunförbundet?" after "Vem är Minna Karhunen?"), the earlier names it replaces, and when it names
    its own year, season or month, the earlier ones: "Entä Lapissa?" after "Mitkä ovat Etelä-Karjalan
    pilotin painopisteet?" carries "pilotin painopisteet", "Entä keväällä?" after "Milloin ovat syksyn
    yhdyspintafoorumit?" carries "yhdyspintafoorumit" (and ``asking_words`` "Milloin ovat").
    """
    words = [match.group() for match in WORD.finditer(question)]
    # "Tell me more" names nothing, and "Vad säger hon om Kommunförbundet?" asks of the earlier person
    own_names = set() if asks_for_more(question) or _pointing(question, analyzer)[1] in ("person", "people", "someone") else {
        _lemma(word, analyzer) for i, word in enumerate(words) if is_name(word, analyzer, i == 0)}
    own_period = bool(periods(question)) or bool(time_direction(question))  # "sen jälkeen": not the earlier years
    own_lemmas = analyzer.content_lemmas(question)
    skip = _NOT_CONTENT | word_table("pointing").keys() | word_set("openers")
    asked_more = _go_on_opening(topic)  # "Tell me more Mitkä ovat ..." from a chain: its topic follows
    carried: list[str] = []
    for i, match in enumerate(WORD.finditer(topic)):
        word = match.group()
        if word.lower() in skip or i < asked_more:
            continue
        if own_names and is_name(word, analyzer, i == 0):
            continue  # the new question names its own place or person instead
        if own_period and periods(word):
            continue  # or its own year, season or month ("Entä keväällä?" after the autumn's forums)
        if _lemma(word, analyzer) in own_lemmas or word in carried:
            continue
        carried.append(word)
    return carried


def asking_words(question: str, topic: str) -> list[str]:
    """The words that open ``topic`` (an earlier question) up to its first content word, when they start with
    a question word and ``question`` (a follow-up) names a year, season or month of its own and has no
    question word: "Entä keväällä?" after "Milloin ovat syksyn yhdyspintafoorumit?" asks "Milloin ovat" too,
    so it asks for the spring's dates as the earlier question asked for the autumn's, and "Entä vuonna
    2024?" after "Mitä Kuntaliitto ehdotti vuonna 2022?" asks "Mitä". A follow-up that asks of another
    thing ("Entä väestöpohja?" after "Montako kuntaa ...?") asks its own question, and one that names
    another place ("Entä Lapissa?") is told apart by its place already."""
    own = [match.group().lower() for match in WORD.finditer(question)][len(opener(question).split()):]
    if not periods(question) or any(word in _ASKING for word in own):  # "what about" opens, it does not ask
        return []
    opening: list[str] = []
    for match in list(WORD.finditer(topic))[_go_on_opening(topic):]:  # past a "kerro lisää" of a chain
        word = match.group()
        if word.lower() not in _NOT_CONTENT or (not opening and word.lower() not in _ASKING):
            break
        opening.append(word)
    return opening


def asks_for_more(question: str) -> bool:
    """Whether ``question`` only asks to go on with the previous topic (``words/go_on.txt``: "kerro lisää")."""
    return " ".join(match.group().lower() for match in WORD.finditer(question)) in word_set("go_on")


def _go_on_opening(text: str) -> int:
    """How many of the first words of ``text`` are a request to go on (``words/go_on.txt``), longest first."""
    words = [match.group().lower() for match in WORD.finditer(text)]
    phrases = word_set("go_on")
    longest = max((len(phrase.split()) for phrase in phrases), default=0)
    return next((size for size in range(min(len(words), longest), 0, -1) if " ".join(words[:size]) in phrases), 0)


def is_name(word: str, analyzer: Analyzer, sentence_initial: bool = False) -> bool:
    """Whether ``word`` is a proper noun: a Voikko place or person name, else a capitalised word mid-sentence."""
    classes = set(analyzer.analyze_word(word.lower()).classes)
    if classes:
        return bool(classes & _NAME_CLASSES)
    if any(ch.isdigit() for ch in word):
        return True
    return word[:1].isupper() and (not sentence_initial or word.isupper())


def _condense(generator: Any, question: str, history: Sequence[Turn]) -> str:
    try:
        condensed: str = generator.condense(question, history)
    except Exception as exc:  # the model is optional: any failure keeps the rule's rewrite
        logger.warning("condensing the follow-up failed: %s", exc)
        return ""
    return condensed.strip()


def _lemma(word: str, analyzer: Analyzer) -> str:
    lemmas = analyzer.analyze_word(word).lemmas
    return lemmas[0] if lemmas else word.lower()
