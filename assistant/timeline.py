"""Follow-ups that ask what came later, or earlier, than what the previous answer quoted.

"Entä mitä sen jälkeen on tapahtunut?" after an answer from a 2022 news item asks what the materials of
2023 and 2024 say on the same topic, not the 2022 item again. A follow-up asks so by a phrase of
``words/time_direction.txt`` ("sen jälkeen", "sitä ennen", "since then", "sedan dess"), and is answered from
the documents of a later (or earlier) year than the document the previous answer quotes first
(``DocumentInfo.year``, from ``sources.json``); one that asks how things are now ("Mikä on tilanne nyt?",
"Is there anything newer?") from the documents of the newest year. Which document that was is read from the
previous answer's quoted lines, found in the index word for word; when none is found (an answer written in
the model's own words, a client's own summary, or a reply that quoted nothing), the previous question is
answered again as it was, and its first citation (or its own period's year) is taken. Without a year
nothing is filtered and the follow-up is answered as any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.entities import periods
from assistant.lexicon import WORD, word_table
from assistant.query import QueryBuilder
from ingest.store import Snapshot
from kysy.models import DocumentInfo

LATER = "later"
EARLIER = "earlier"
NOW = "now"  # later, from the newest year's documents
# Words a quoted line needs to be looked up in the index: a shorter line ("Aineiston mukaan:") is no quote.
MIN_QUOTE_WORDS = 4
# Passages the keyword index is asked for each quoted line.
QUOTE_PASSAGES = 3
_MARKER = re.compile(r"\s*\[\d{1,3}\]")
_BULLET = re.compile(r"^\s*(?:[-*•—–]\s+)?")
# A clitic ending a word ("myöhemminkin", "nytkään"): the word matches a phrase without it.
_CLITIC = re.compile(r"(?<=\w{3})(?:kin|kaan|kään)$")
# The words after which a phrase ("sen jälkeen, kun ...", "ennen kuin ...") says when something else happened.
_CONJUNCTIONS = (["kun"], ["kuin"], ["when"], ["då"], ["än"])


@dataclass(frozen=True)
class Period:
    """The documents a follow-up asks of: ``direction`` (``LATER`` or ``EARLIER``) of ``year``, the year of the
    source the previous answer quoted first, and the documents on that side (``documents``, their ids; empty
    when the materials hold none); ``newest``, the newest year, when only its documents are read (``NOW``)."""

    direction: str
    year: int
    documents: frozenset[str]
    newest: int | None = None

    def meta(self) -> dict[str, object]:
        """The period as ``meta`` gives it."""
        found: dict[str, object] = {"direction": self.direction, "year": self.year, "documents": len(self.documents)}
        return found if self.newest is None else {**found, "newest": self.newest}


def time_direction(question: str) -> str:
    """``LATER``, ``EARLIER`` or ``NOW`` when ``question`` has a phrase of ``words/time_direction.txt`` and names
    no year, season or month of its own ("Mitä tapahtui vuoden 2023 jälkeen?" says after what), else ""."""
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
    words = [match.group() for match in WORD.finditer(question)]
    size = len(phrase.split())
    start = next(i for i in range(len(words)) if " ".join(words[i:i + size]).lower() == phrase)
    return " ".join(words[:start] + words[start + size:])


def _phrase(question: str) -> tuple[str, str, bool]:
    """The direction, the phrase and whether it points back, of the first (longest) phrase of
    ``words/time_direction.txt`` in ``question`` that does not open a clause ("sen jälkeen, kun ...", "ennen
    kuin ...")."""
    table = word_table("time_direction")
    words = [match.group().lower() for match in WORD.finditer(question)]
    bare = [_CLITIC.sub("", word) for word in words]
    longest = max((len(phrase.split()) for phrase in table), default=0)
    for start in range(len(words)):
        for size in range(min(longest, len(words) - start), 0, -1):
            for phrase in dict.fromkeys((" ".join(words[start:start + size]), " ".join(bare[start:start + size]))):
                direction, *rest = table.get(phrase, "").split() or [""]
                if direction in (LATER, EARLIER, NOW) and words[start + size:start + size + 1] not in _CONJUNCTIONS:
                    return direction, " ".join(words[start:start + size]), "back" in rest
    return "", "", False


def quoted_documents(answer: str, snapshot: Snapshot, queries: QueryBuilder) -> tuple[str, ...]:
    """The ids of the documents whose passages hold, word for word, a line that ``answer`` quotes (its ``[n]``
    markers and a list dash aside), in the order of their first quoted line; each line is looked up with the
    keyword index."""
    found: list[str] = []
    for line in answer.splitlines():
        quote = " ".join(_MARKER.sub("", _BULLET.sub("", line, count=1)).split())
        if len(quote.split()) < MIN_QUOTE_WORDS:
            continue
        terms = queries.build(quote, "fi", embed=False).terms
        for hit in snapshot.keyword.search(terms, QUOTE_PASSAGES) if terms else ():
            chunk = snapshot.chunks[hit.row]
            if quote in " ".join(chunk.text.split()):
                found.append(chunk.doc_id)
                break
    return tuple(dict.fromkeys(found))


def beyond(direction: str, shown: Sequence[str], documents: Mapping[str, DocumentInfo]) -> Period | None:
    """The documents of a later (``LATER``; ``NOW``: the newest year's) or earlier year than the first dated
    document of ``shown`` (document ids in the order the previous answer quoted them: one more source quoted
    below the first does not move the edge), or None when none of ``shown`` has a year."""
    year = next((year for doc in shown if doc in documents and (year := documents[doc].year) is not None), None)
    if year is None:
        return None
    if direction != NOW:
        return Period(direction, year, side(direction, year, documents))
    newest = max(doc.year for doc in documents.values() if doc.year is not None)
    return Period(LATER, year, side(LATER, year, documents, newest), newest)


def side(direction: str, year: int, documents: Mapping[str, DocumentInfo], newest: int | None = None) -> frozenset[str]:
    """The ids of the documents of a later (``LATER``) or earlier year than ``year`` (with ``newest``, of that
    year only, when it is later); a document without a year is neither."""
    if newest is not None:
        return frozenset(doc.id for doc in documents.values() if doc.year == newest and newest > year)
    return frozenset(doc.id for doc in documents.values() if (own := doc.year) is not None
                     and (own > year if direction == LATER else own < year))


def within(meta: Mapping[str, object], documents: Mapping[str, DocumentInfo]) -> frozenset[str] | None:
    """The documents an answer was read from when its ``meta`` has a ``period`` (``Period.meta``), else None."""
    period = meta.get("period")
    if not isinstance(period, Mapping):
        return None
    newest = int(period["newest"]) if period.get("newest") is not None else None
    return side(str(period["direction"]), int(period["year"]), documents, newest)


def edge_documents(meta: Mapping[str, object], documents: Mapping[str, DocumentInfo]) -> tuple[str, ...]:
    """The documents of the edge year of an answer's ``period`` (a reply that quoted nothing: "nothing later than
    2024"), so that a follow-up to it starts from the same year; empty without a period."""
    period = meta.get("period")
    if not isinstance(period, Mapping):
        return ()
    return tuple(doc.id for doc in documents.values() if doc.year == int(period["year"]))
