"""The intent stage: a question understood once, for every later stage.

What a question asks for comes from its words (``words/question_kinds.txt``: "montako" asks a count,
"kuka" a person, "mitkä" a list) and, with Voikko, from their base forms (a phrase in any case: "kuinka
monella alueella" as "kuinka monta") and from a question word before a plural ("Millä tasoilla ..." asks
for a list: ``words/asking.txt``). A question is *broad* when it asks how or what, or for a list, and
holds a word of ``words/broad.txt`` as it stands or by its base form ("miten muut alueet", "eri
aineistoissa", "mitä eroa", "millaisia eroja"): its answer draws on several sources. The kinds that name one fact (a count, an amount, a share, a duration, a date, a time, a
year, a way to contact) are the ones whose absence from the evidence makes an answer ``partial``. A person is not
among them: "kuka" and "kenen" are answered as often by a body or a role written as a common noun
("ohjausryhmän hyväksyntä", "ministeriöiden kanssa") as by a name, so a missing name says little.
Asking who holds a role of ``words/roles.txt`` ("Kuka on ohjausryhmän puheenjohtaja?") is another
matter: that asks for a name (the kind *holder*), and it is one of the one-fact kinds. So is a *day*
("Minä päivänä ...?"), which a month or a season does not answer, and a *town* ("Missä kaupungissa
...?"), which only a place's name answers: "missä" alone asks as often "missä vaiheessa". So does "mikä"
before a noun of a locality (``words/localities.txt``) in its own case and number, in the plural elative
or in the elative after a numeral's ("Mikä kaupunki ...?", "Minkä kunnan ...?", "Mikä Etelä-Karjalan kunnista
...?", "Mikä yhdeksästä kunnasta ...?"), while "Mikä kuntien rooli ...?" asks none. A question that
names places and asks beyond them ("Etelä-Karjalan ja Lapin lisäksi", "besides": ``words/besides.txt``)
asks for a town too: a place it does not name itself. Asking how to reach someone ("Miten otan
yhteyttä?") asks a contact; asking whom ("Keneen otan yhteyttä?", "Who should we contact?") asks a person.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.entities import is_place_name
from assistant.lexicon import opening_words, word_set, word_table
from assistant.query import Query
from ingest.analyze import Analyzer, WordAnalysis, word_tokens

# A part of a question has at least this many words ("... ja milloin?" adds a kind, not a part).
PART_WORDS = 3
# The kinds naming one fact that the evidence either holds or does not (a person is not: see above).
FACT_KINDS = frozenset({"count", "amount", "share", "duration", "date", "day", "time", "year", "contact", "holder",
                        "town"})


@dataclass(frozen=True)
class Intent:
    """What a question asks for, understood once.

    ``kinds``: any of list, count, amount, share, duration, date, day, time, year, person, who, holder, contact,
    place, town, reason, how ("who" marks a plural "ketkä" that asks for a list).
    ``broad``: the answer should draw on several sources (by ``words/broad.txt`` here; the answer engine
    also makes it so when the breadth model, ``assistant/breadth.py``, says the question needs several
    documents). ``names``: the lemmas of the places,
    organisations and people it names (from the prepared ``Query``). ``given``: what the question
    itself states (its numbers and the first letters of its words), which an answer must go beyond:
    "Kuka johtaa Lapin pilottia?" is not answered by a line that names only Lappi. ``parts``: the
    questions a question of several parts asks, each on its own (``question_parts``); empty for one.
    """

    language: str
    kinds: frozenset[str]
    broad: bool
    names: frozenset[str]
    given: frozenset[str] = frozenset()
    parts: tuple[str, ...] = ()

    @property
    def fact(self) -> frozenset[str]:
        """The one-fact kinds asked (count, amount, share, duration, date, day, time, year, contact, holder, town)."""
        return self.kinds & FACT_KINDS

    def asks(self, kind: str) -> bool:
        """Whether the question asks for ``kind``."""
        return kind in self.kinds


def understand(question: str, query: Query, analyzer: Analyzer | None = None) -> Intent:
    """The intent of ``question`` (``query`` is its prepared form).

    Besides the words themselves, their base forms and compound parts are read ("kokonaisbudjetti"
    asks an amount as "budjetti" does).
    """
    tokens = word_tokens(question)
    asking = _main_clauses(tokens) if query.language in ("en", "sv") else tokens
    kinds = set(question_kinds(asking))
    forms = set(tokens)
    if analyzer is not None:
        bases: list[str] = []
        for token in asking:
            analysis = analyzer.analyze_word(token)
            readings = [*analysis.lemmas[:1], *analysis.parts]
            kinds |= question_kinds(readings)
            forms.update(readings)
            bases.append(analysis.lemmas[0] if analysis.lemmas else token)
        kinds |= question_kinds(bases)  # a phrase in any case: "kuinka monella" as "kuinka monta"
    if "reach" in kinds:  # "Miten otan yhteyttä?" asks a contact; "Keneen otan yhteyttä?" asks whom
        kinds.discard("reach")
        if not kinds & {"person", "who"}:
            kinds.add("contact")
    if kinds & {"person", "who"} and forms & word_set("roles"):
        kinds.add("holder")
    if forms & word_set("besides") and any(is_place_name(name, analyzer) for name in query.names):
        kinds |= {"place", "town"}  # "Mikä on kolmas alue Etelä-Karjalan ja Lapin lisäksi?" asks for another place
    if analyzer is not None and _asks_plural(tokens, analyzer):
        kinds.add("list")
    if analyzer is not None and _asks_locality(tokens, analyzer):
        kinds |= {"place", "town"}  # "Mikä kaupunki ...?", "Mikä Etelä-Karjalan kunnista ...?"
    if {"much", "money"} <= kinds:  # "Paljonko jäsenmaksu on?" asks a sum of money; "Kuka maksaa?" does not
        kinds.add("amount")
    kinds -= {"much", "money"}
    if kinds & {"share", "amount"}:
        # "Kuinka monta prosenttia ...?" is answered by "45 %", "Paljonko ... maksaa?" by a sum: no other count
        kinds.discard("count")
    if kinds & {"count", "amount", "share", "duration"}:
        kinds.discard("list")  # "Montako kuntaa ..." wants the number, not the municipalities
    broad = bool(forms & word_set("broad")) and bool(kinds & {"how", "list", "reason"} or "mitä" in tokens)
    return Intent(query.language, frozenset(kinds), broad, query.names, given_words(question, analyzer),
                  question_parts(question, analyzer))


def _main_clauses(tokens: Sequence[str]) -> list[str]:
    """An English or Swedish question without the question words after the first of each part: a later
    one opens a subordinate clause ("What does the mapping cover when cooperation is launched?", "the
    person who leads it"), which asks for nothing."""
    asking = word_set("question_words")
    starts = set(_part_starts(tokens))
    opened = opening_words(tokens)  # "What about spring? When are the forums held": "what about" asks nothing
    kept: list[str] = []
    asked = False
    for i, token in enumerate(tokens):
        if i in starts:
            asked = False  # another part: "Who funds it and what does it produce?"
        if token in asking and i >= opened:
            if asked:
                continue
            asked = True
        kept.append(token)
    return kept


def question_parts(question: str, analyzer: Analyzer | None = None) -> tuple[str, ...]:
    """The parts of a question that asks several things, each of at least ``PART_WORDS`` words (none for
    a question of one part): a part starts at a coordinator ("ja", "and", "och": ``words/coordinators.txt``)
    followed by a question word (``words/question_words.txt``) or a Finnish verb with the question clitic
    ("Millainen rooli maakuntien liitoilla on, ja voivatko ne olla mukana aluepiloteissa?")."""
    words = question.split()
    starts = [0, *_part_starts([_bare(word) for word in words], analyzer)]
    bounds = [(start, starts[k + 1] - 1 if k + 1 < len(starts) else len(words)) for k, start in enumerate(starts)]
    parts = [" ".join(words[a:b]).rstrip(",;") for a, b in bounds if b - a >= PART_WORDS]
    return tuple(parts) if len(parts) > 1 else ()


def part_readings(parts: Sequence[str]) -> tuple[str, ...]:
    """What each part is read as: the part itself, or, when it points back with a word of
    ``words/pointing.txt`` ("... ja miten se liittyy yhdyspintoihin?"), the part before it and the part,
    so that "se" has its noun."""
    pointing = word_table("pointing")
    readings = []
    for i, part in enumerate(parts):
        points = i > 0 and any(_bare(word) in pointing for word in part.split())
        readings.append(f"{parts[i - 1]} {part}" if points else part)
    return tuple(readings)


def _part_starts(words: Sequence[str], analyzer: Analyzer | None = None) -> list[int]:
    """Where a later part starts among lower-cased ``words``: after a coordinator, at a question word or a
    verb with the question clitic (see ``question_parts``)."""
    coordinators, asking = word_set("coordinators"), word_set("question_words")
    return [i + 1 for i in range(1, len(words) - 1)
            if words[i] in coordinators and _opens(words[i + 1], asking, analyzer)]


def _bare(word: str) -> str:
    return word.strip(",;:.!?\"'()").lower()


def _opens(word: str, asking: frozenset[str], analyzer: Analyzer | None) -> bool:
    if word in asking:
        return True
    return (analyzer is not None and word.endswith(("ko", "kö")) and len(word) > 3
            and "teonsana" in analyzer.analyze_word(word).classes)


def given_words(question: str, analyzer: Analyzer | None = None) -> frozenset[str]:
    """The numbers of ``question``, its words and their base forms (``Intent.given``)."""
    given: set[str] = set()
    for token in re.findall(r"\d+|[^\W\d_]+", question.lower()):
        given.add(token)
        if analyzer is not None and not token.isdigit():
            given.update(analyzer.analyze_word(token).lemmas)
    return frozenset(given)


@functools.lru_cache(maxsize=8)
def _longest_phrase(name: str) -> int:
    """The most words a key of ``word_table(name)`` has (1 for an empty table)."""
    return max((len(phrase.split()) for phrase in word_table(name)), default=1)


def question_kinds(tokens: Sequence[str]) -> set[str]:
    """The kinds the phrases of ``words/question_kinds.txt`` found among ``tokens`` (longest phrase first)."""
    table = word_table("question_kinds")
    longest = _longest_phrase("question_kinds")
    kinds: set[str] = set()
    i = 0
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            found = table.get(" ".join(tokens[i : i + size]))
            if found is not None:
                kinds.update(kind for kind in found.split(",") if kind)
                i += size
                break
        else:
            i += 1
    return kinds


def _asks_locality(tokens: Sequence[str], analyzer: Analyzer) -> bool:
    """Whether a question word "mikä" is followed (past a genitive: "Mikä Etelä-Karjalan kunnista") by a noun of
    ``words/localities.txt`` in its own case and number ("Minkä kaupungin") or in the plural elative ("kunnista")."""
    localities = word_set("localities")
    for i, word in enumerate(tokens[:-1]):
        asking = analyzer.analyze_word(word)
        if "mikä" not in asking.lemmas or "asemosana" not in asking.classes:
            continue
        at = _asked_index(tokens, i, analyzer, lambda genitive: _is_locality(genitive, localities))
        following = analyzer.analyze_word(tokens[at])
        if _of_counted(tokens, at, analyzer, localities):
            return True  # "Mikä Etelä-Karjalan yhdeksästä kunnasta ...?": one of the nine
        if not _is_locality(following, localities):
            continue
        if (following.case, following.plural) == (asking.case, asking.plural) and not asking.plural:
            return True
        if following.case == "sisaeronto" and following.plural:
            return True
    return False


def _of_counted(tokens: Sequence[str], at: int, analyzer: Analyzer, localities: frozenset[str]) -> bool:
    """Whether the asked word ``tokens[at]`` is a numeral in the elative followed by a noun of ``localities`` in
    the elative: "Mikä Etelä-Karjalan yhdeksästä kunnasta" (one of nine municipalities) asks for a locality as
    "Mikä Etelä-Karjalan kunnista" does."""
    numeral = analyzer.analyze_word(tokens[at])
    if "lukusana" not in numeral.classes or numeral.case != "sisaeronto" or at + 1 >= len(tokens):
        return False
    counted = analyzer.analyze_word(tokens[at + 1])
    return _is_locality(counted, localities) and counted.case == "sisaeronto"


def _is_locality(analysis: WordAnalysis, localities: frozenset[str]) -> bool:
    """Whether a word is a noun of a locality (its base form among ``localities``)."""
    return "nimisana" in analysis.classes and bool(set(analysis.lemmas[:1]) & localities)


def _asked_index(tokens: Sequence[str], i: int, analyzer: Analyzer,
                 asked: Callable[[WordAnalysis], bool] = lambda _: False) -> int:
    """Where the word the question word ``tokens[i]`` asks about stands: the next word, or the one after it
    past a singular genitive ("Millä toiminnan tasoilla", "Mikä Etelä-Karjalan kunnista") unless ``asked``
    takes that genitive itself ("Minkä kaupungin")."""
    following = analyzer.analyze_word(tokens[i + 1])
    if following.case == "omanto" and not following.plural and i + 2 < len(tokens) and not asked(following):
        return i + 2
    return i + 1


def _asked_word(tokens: Sequence[str], i: int, analyzer: Analyzer) -> WordAnalysis:
    """The analysis of the word the question word ``tokens[i]`` asks about (``_asked_index``)."""
    return analyzer.analyze_word(tokens[_asked_index(tokens, i, analyzer)])


def _asks_plural(tokens: Sequence[str], analyzer: Analyzer) -> bool:
    asking = word_set("asking")
    for i, word in enumerate(tokens[:-1]):
        if word not in asking:
            continue
        following = _asked_word(tokens, i, analyzer)
        if following.plural and following.case != "keinonto":  # "millä tavoin" asks how
            return True
    return False
