"""What kind of fact a text holds: a count, an amount of money, a date, a time of day, a year, a person,
a way to contact someone, a place. The evidence stage asks it of every candidate item, so that an
item holding what the question asks for (``assistant/intent.py``) can be told from one that does not.

A count is a cardinal number that is not a date ("27.10."), an ordinal ("1."), a year or a share
("8 %"). A date is a day, a month, a year or a century ("1500-luvulla"). A person is a name of Voikko's person classes, or any capitalised word inside a sentence:
"Kuka rahoittaa hanketta?" is answered by "Rahoittajina Kuntaliitto, Hyvil ja STM." A place is a
name of Voikko's place class.
"""

from __future__ import annotations

import re

from ingest.analyze import Analyzer

_CARDINAL = re.compile(r"(?<![\d.,])(?!(?:19|20)\d\d\b)\d+(?:[ \u00a0]\d{3})*(?:/\d+)?(?![\d.,]|\s*%|-luvu)")
_MONEY = re.compile(r"€|\d\s*(?:e|eur|euroa?|milj\.?|mrd|kr|kronor)\b|\beuro|\bmiljoona|\bmiljardi", re.IGNORECASE)
_DATE = re.compile(
    r"\b\d{1,2}\.\d{1,2}\.(?:\d{2,4})?|\b(?:tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu)kuu"
    r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
_TIME = re.compile(r"\bklo\b|\bkello\b|\b\d{1,2}[:.]\d{2}\b(?![.\d])|\b\d{1,2}\s*(?:am|pm)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:1[0-9]|20)\d\d\b|\b\d{3,4}-luvu|\b\d{1,2}\.\s*vuosisa", re.IGNORECASE)
_CONTACT = re.compile(r"@|\bp\.\s*\+?\d|\+358|\b\d{2,3}[ -]?\d{3,4}[ -]?\d{3,4}\b")
# A capitalised word that does not open a sentence (nor follow a list dash or a colon).
_INNER_CAPITAL = re.compile(r"(?<![.!?:\n-]\s)(?<!^)(?<=\s)[A-ZÅÄÖ][\w-]+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PERSON_CLASSES = frozenset({"etunimi", "sukunimi"})
_PLACE_CLASSES = frozenset({"paikannimi"})

KINDS = ("count", "amount", "date", "time", "year", "person", "contact", "place")


def holds(kind: str, text: str, analyzer: Analyzer | None = None) -> bool:
    """Whether ``text`` holds a fact of ``kind`` (one of ``KINDS``; other kinds are never held)."""
    if kind == "count":
        return bool(_CARDINAL.search(_DATE.sub(" ", text)))
    if kind == "amount":
        return bool(_MONEY.search(text))
    if kind == "date":  # "milloin" is answered by a year or a century as well
        return bool(_DATE.search(text) or _YEAR.search(text))
    if kind == "time":
        return bool(_TIME.search(_DATE.sub(" ", text)))
    if kind == "year":
        return bool(_YEAR.search(text))
    if kind == "contact":
        return bool(_CONTACT.search(text))
    if kind == "person":
        return bool(_INNER_CAPITAL.search(text)) or _has_name(text, _PERSON_CLASSES, analyzer)
    if kind == "place":
        return _has_name(text, _PLACE_CLASSES, analyzer)
    return False


def held_kinds(text: str, analyzer: Analyzer | None = None) -> frozenset[str]:
    """Every kind of ``KINDS`` that ``text`` holds."""
    return frozenset(kind for kind in KINDS if holds(kind, text, analyzer))


def _has_name(text: str, classes: frozenset[str], analyzer: Analyzer | None) -> bool:
    if analyzer is None:
        return False
    for match in _WORD.finditer(text):
        word = match.group()
        if word[:1].isupper() and set(analyzer.analyze_word(word.lower()).classes) & classes:
            return True
    return False
