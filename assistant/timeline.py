"""Follow-ups that ask what came later, or earlier, than what the previous answer quoted.

"Entä mitä sen jälkeen on tapahtunut?" after an answer from a 2022 news item asks what the materials of
2023 and 2024 say on the same topic, not the 2022 item again. A follow-up asks so by a phrase of
``words/time_direction.txt`` ("sen jälkeen", "nyt", "sitä ennen", "since then", "sedan dess"), and is
answered from the documents of a later (or earlier) year than every document the previous answer quoted
(``DocumentInfo.year``, from ``sources.json``). Which documents those were is read from the previous
answer's quoted lines, found in the index word for word; when none is found (an answer written in the
model's own words, or a client that sent its own summary), the previous question is answered again and its
citations are taken. Without a year on either side nothing is filtered and the follow-up is answered as
any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from assistant.entities import periods
from assistant.lexicon import word_table
from assistant.query import QueryBuilder
from ingest.store import Snapshot
from kysy.models import DocumentInfo

LATER = "later"
EARLIER = "earlier"
# Words a quoted line needs to be looked up in the index: a shorter line ("Aineiston mukaan:") is no quote.
MIN_QUOTE_WORDS = 4
# Passages the keyword index is asked for each quoted line.
QUOTE_PASSAGES = 3
_WORD = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_MARKER = re.compile(r"\s*\[\d{1,3}\]")
_BULLET = re.compile(r"^\s*(?:[-*•—–]\s+)?")
# A clitic ending a word ("myöhemminkin", "nytkään"): the word matches a phrase without it.
_CLITIC = re.compile(r"(?<=\w{3})(?:kin|kaan|kään)$")
# The words after which a phrase ("sen jälkeen, kun ...", "ennen kuin ...") says when something else happened.
_CONJUNCTIONS = (["kun"], ["kuin"], ["when"], ["då"], ["än"])


@dataclass(frozen=True)
class Period:
    """The years a follow-up asks beyond: ``direction`` of ``year``, the edge of what was quoted, and the
    documents on that side (``documents``, their ids; empty when the materials hold none)."""

    direction: str  # LATER or EARLIER
    year: int
    documents: frozenset[str]

    def meta(self) -> dict[str, object]:
        """The period as ``meta`` gives it."""
        return {"direction": self.direction, "year": self.year, "documents": len(self.documents)}


def time_direction(question: str) -> str:
    """``LATER`` or ``EARLIER`` when ``question`` has a phrase of ``words/time_direction.txt`` and names no year,
    season or month of its own ("Mitä tapahtui vuoden 2023 jälkeen?" says after what), else ""."""
    return _phrase(question)[0] if not periods(question) else ""


def points_back(question: str) -> str:
    """The phrase of ``question`` that asks later or earlier than the previous turn by pointing back to it
    ("sittemmin", "since then": ``back`` in ``words/time_direction.txt``), else ""."""
    direction, phrase, back = _phrase(question)
    return phrase if direction and back else ""


def without_phrase(question: str) -> str:
    """``question`` without its phrase of ``words/time_direction.txt`` (the words that are left ask the rest:
    "Miten asia on edennyt?" leaves "Miten asia on")."""
    phrase = _phrase(question)[1]
    if not phrase:
        return question
    words = [match.group() for match in _WORD.finditer(question)]
    size = len(phrase.split())
    start = next(i for i in range(len(words)) if " ".join(words[i:i + size]).lower() == phrase)
    return " ".join(words[:start] + words[start + size:])


def _phrase(question: str) -> tuple[str, str, bool]:
    """The direction, the phrase and whether it points back, of the first (longest) phrase of
    ``words/time_direction.txt`` in ``question`` that does not open a clause ("sen jälkeen, kun ...", "ennen
    kuin ...")."""
    table = word_table("time_direction")
    words = [match.group().lower() for match in _WORD.finditer(question)]
    bare = [_CLITIC.sub("", word) for word in words]
    longest = max((len(phrase.split()) for phrase in table), default=0)
    for start in range(len(words)):
        for size in range(min(longest, len(words) - start), 0, -1):
            for phrase in dict.fromkeys((" ".join(words[start:start + size]), " ".join(bare[start:start + size]))):
                direction, *rest = table.get(phrase, "").split() or [""]
                if direction in (LATER, EARLIER) and words[start + size:start + size + 1] not in _CONJUNCTIONS:
                    return direction, " ".join(words[start:start + size]), "back" in rest
    return "", "", False


def quoted_documents(answer: str, snapshot: Snapshot, queries: QueryBuilder) -> frozenset[str]:
    """The ids of the documents whose passages hold, word for word, a line that ``answer`` quotes (its ``[n]``
    markers and a list dash aside), each line looked up with the keyword index."""
    found: set[str] = set()
    for line in answer.splitlines():
        quote = " ".join(_MARKER.sub("", _BULLET.sub("", line, count=1)).split())
        if len(quote.split()) < MIN_QUOTE_WORDS:
            continue
        terms = queries.build(quote, "fi", embed=False).terms
        for hit in snapshot.keyword.search(terms, QUOTE_PASSAGES) if terms else ():
            chunk = snapshot.chunks[hit.row]
            if quote in " ".join(chunk.text.split()):
                found.add(chunk.doc_id)
                break
    return frozenset(found)


def beyond(direction: str, shown: Iterable[str], documents: Mapping[str, DocumentInfo]) -> Period | None:
    """The documents of a later (``LATER``) or earlier year than every dated one of ``shown`` (document ids),
    or None when none of ``shown`` has a year."""
    years = [year for doc in shown if doc in documents and (year := documents[doc].year) is not None]
    if not years:
        return None
    edge = max(years) if direction == LATER else min(years)
    return Period(direction, edge, side(direction, edge, documents))


def side(direction: str, year: int, documents: Mapping[str, DocumentInfo]) -> frozenset[str]:
    """The ids of the documents of a later (``LATER``) or earlier year than ``year``; a document without a year
    is neither."""
    return frozenset(doc.id for doc in documents.values() if (own := doc.year) is not None
                     and (own > year if direction == LATER else own < year))


def within(meta: Mapping[str, object], documents: Mapping[str, DocumentInfo]) -> frozenset[str] | None:
    """The documents an answer was read from when its ``meta`` has a ``period`` (``Period.meta``), else None."""
    period = meta.get("period")
    if not isinstance(period, Mapping):
        return None
    return side(str(period["direction"]), int(period["year"]), documents)
