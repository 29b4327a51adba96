"""Deciding when the materials do not contain the answer, and spotting prompt injection.

One similarity score alone separates answerable from unanswerable questions poorly, so the
decision looks at what the best retrieved chunks say about the question's own words:

- ``best_item``: the idf-weighted share of the question's content lemmas that ONE sentence or list
  item of the best chunks covers (with its headings); an answer is usually one such sentence;
- ``entity_missing``: a name, number or year of the question that neither the best chunks nor their
  documents' titles and years hold ("Ahvenanmaa", "2026"; "the 2024 news" names its document's
  year); for a Swedish or English question the names are those the glossary translated
  ("Åland" -> "Ahvenanmaa"). ``entity_unseen`` says whether the whole index never mentions it;
- ``dense``: the best dense similarity among the best chunks;
- ``quantity_missing``: the question asks for an amount of money ("kuinka monta euroa", "budget")
  or a count ("montako", "how many") and the best chunks hold no such amount (dates, ordinals
  and years are not counts);
- ``person_missing``: a "kuka on <role>" question with no sentence naming a person in that role
  together with the question's names ("toimitusjohtaja Minna Karhunen" is not Hyvil's).

The rule is transparent: refuse any question missing its quantity or person, or with an entity
missing from the best chunks; refuse a Finnish question when no item covers at least
``MIN_BEST_ITEM`` of the question while the dense similarity is below ``MIN_DENSE``, and a
Swedish or English one when its dense similarity is below ``MIN_DENSE_FOREIGN``. The
thresholds were calibrated on the project's question set and checked on its odd and even halves
(a logistic regression over the same signals did not do better on held-out halves). The other
signals are kept in ``Evidence`` for the decision's reason and for later calibration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer import CARDINAL, document_terms, matches
from assistant.query import Query, concept_weights, holds
from ingest.analyze import Analyzer, prefix_stem
from ingest.store import Snapshot, StoredSentence
from kysy.models import ScoredChunk

MIN_BEST_ITEM = 0.5
MIN_DENSE = 0.85
# Swedish and English questions meet the Finnish sources' lemmas only through the glossary, which
# knows the domain's words but not every word of a question, so the item coverage is no fair test
# for them: the dense similarity speaks, and only a clearly unrelated question is refused.
MIN_DENSE_FOREIGN = 0.76
# The chunks whose terms count as evidence.
EVIDENCE_CHUNKS = 3

_INJECTION = re.compile(
    r"(?:unohda|ohita|älä\s+välitä|ignore|disregard|forget|glöm|ignorera)\b[^.:?!]*"
    r"(?:ohje|lähte|sääntö|instruction|source|rule|prompt|instruktion|källor)"
    r"|järjestelmäkehote|system\s*prompt|systemprompt|^\s*system\s*:"
    r"|api[- ]?avai|api[- ]?key"
    r"|(?:vastaa|sano|kirjoita|say|answer|write|svara)\s+(?:pelkästään|vain|only|just|endast)?\s*['\"‘’“”]"
    r"|merkitse\s+lähteeksi|cite\s+\[\d+\]",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
# A question asking for an amount of money, and a count ("how many"), in any of the three languages.
_ASKS_MONEY = re.compile(
    r"\beuro|€|\bbudjet|\btalousarvi|\bjäsenmaks|\brahaa\b|\bbudget|\bkronor|\bmoney\b|\bfee\b", re.IGNORECASE
)
_ASKS_COUNT = re.compile(r"\bkuinka\s+(?:monta|moni)\b|\bmontako\b|\bhow\s+many\b|\bhur\s+många\b", re.IGNORECASE)
# An amount of money, and a cardinal number that is not a date ("27.10."), an ordinal ("1.") or a year.
_MONEY = re.compile(r"€|\d\s*(?:e|eur|euroa?|milj\.?|mrd)\b|\beuro", re.IGNORECASE)
_ASKS_PERSON = re.compile(r"\b(?:kuka|kenen)\b", re.IGNORECASE)
_ROLE = re.compile(r"\b\w*(?:johtaja|päällikkö|yhteyshenkilö|asiantuntija|koordinaattori)\w*", re.IGNORECASE)
_PERSON = re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+ (?!Oy\b)[A-ZÅÄÖ][a-zåäö]+\b")


@dataclass(frozen=True)
class Decision:
    """Whether to refuse, why, and which covered topics to suggest instead."""

    not_found: bool
    reason: str
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """The signals the decision is made of (see the module docstring)."""

    coverage: float
    unseen: float
    best_item: float
    entity_unseen: bool
    entity_missing: bool
    dense: float
    quantity_missing: bool = False
    person_missing: bool = False

    def features(self) -> tuple[float, ...]:
        """The signals as numbers (for calibration scripts)."""
        return (
            self.coverage, self.unseen, self.best_item, float(self.entity_unseen), float(self.entity_missing), self.dense
        )


def injection_question(question: str) -> str | None:
    """The genuine question inside a prompt-injection attempt.

    Returns None when ``question`` shows no injection, "" when it is nothing but an injection,
    else the part after the instructions (the text after the last colon when it asks something).
    """
    if not _INJECTION.search(question):
        return None
    tail = question.rsplit(":", 1)[-1].strip() if ":" in question else ""
    if tail and tail.endswith("?") and not _INJECTION.search(tail):
        return tail
    return ""


def evidence(query: Query, retrieved: Sequence[ScoredChunk], snapshot: Snapshot, analyzer: Analyzer) -> Evidence:
    """Measure how well the best retrieved chunks cover the question."""
    wanted = concept_weights(query, snapshot.keyword)
    top = retrieved[:EVIDENCE_CHUNKS]
    chunk_terms = {hit.chunk.id: frozenset(snapshot.chunk_terms.get(hit.chunk.id, ())) for hit in top}
    found: set[str] = set().union(*chunk_terms.values())
    # "the 2024 news" names its document's year
    documents = set().union(*(document_terms(hit.chunk, snapshot, analyzer) for hit in top))
    indexed = snapshot.keyword.document_frequency
    seen = {lemma: w for lemma, w in wanted.items() if any(indexed(form) > 0 for form in query.variants(lemma))}
    total, seen_total = sum(wanted.values()), sum(seen.values())
    coverage = sum(w for lemma, w in seen.items() if holds(query, lemma, found)) / seen_total if seen_total else 0.0
    entities = [lemma for lemma in wanted if lemma in query.names or _NUMBER.search(lemma)]
    names = [lemma for lemma in entities if not _NUMBER.search(lemma)]
    best_item = 0.0
    stored = snapshot.sentences([hit.chunk.id for hit in top])
    for hit in top:
        context = set(analyzer.content_lemmas(hit.chunk.heading))
        for item in stored.get(hit.chunk.id, []):
            terms = set(item.terms) | context
            best_item = max(best_item, sum(w for lemma, w in wanted.items() if holds(query, lemma, terms)))
    dense = max((dict(hit.scores).get("dense", 0.0) for hit in top), default=0.0)
    return Evidence(
        coverage=coverage,
        unseen=(total - seen_total) / total if total else 1.0,
        best_item=best_item / total if total else 0.0,
        entity_unseen=any(not _indexed(lemma, snapshot) for lemma in entities),
        entity_missing=any(not _held(lemma, found | documents) for lemma in entities),
        dense=dense,
        quantity_missing=quantity_missing(query.text, [hit.chunk.text for hit in top]),
        person_missing=person_missing(
            query.text,
            [(item, chunk_terms[hit.chunk.id]) for hit in top for item in stored.get(hit.chunk.id, [])],
            names,
        ),
    )


def _forms(lemma: str) -> list[str]:
    """The lemma and, for a name Voikko does not know ("Jurmun"), its prefix stem."""
    stem = prefix_stem(lemma)
    return [lemma, stem] if stem else [lemma]


def _held(lemma: str, terms: set[str]) -> bool:
    """Whether ``terms`` hold the lemma or its prefix stem."""
    return any(form in terms for form in _forms(lemma))


def _indexed(lemma: str, snapshot: Snapshot) -> bool:
    """Whether the index holds the lemma or its prefix stem."""
    return any(snapshot.keyword.document_frequency(form) > 0 for form in _forms(lemma))


def quantity_missing(question: str, texts: Sequence[str]) -> bool:
    """Whether the question asks for an amount of money or a count that none of ``texts`` holds.

    Such a question cannot be answered from chunks without any amount of money, or without any
    cardinal number (dates, ordinals and years do not count).
    """
    if _ASKS_MONEY.search(question):
        return not any(_MONEY.search(text) for text in texts)
    if _ASKS_COUNT.search(question):
        return not any(CARDINAL.search(text) for text in texts)
    return False


def person_missing(
    question: str, items: Sequence[tuple[StoredSentence, frozenset[str]]], entities: Sequence[str]
) -> bool:
    """Whether a Finnish "who is the <role> of X" question has no sentence naming a person in that role for X.

    The answer to such a question is one sentence that holds the role and a person's name, in a
    passage that names the question's names ("toimitusjohtaja Minna Karhunen" does not answer for
    another organisation). ``items`` are the candidate sentences with their chunk's terms.
    """
    if not _ASKS_PERSON.search(question):
        return False
    roles = [word.lower() for word in _ROLE.findall(question)]
    if not roles:
        return False
    for item, passage in items:
        text = item.sentence.text
        lowered = text.lower()
        has_role = any(role[:-2] in lowered for role in roles)
        if has_role and _PERSON.search(text) and all(matches(lemma, {*item.terms, *passage}) for lemma in entities):
            return False
    return True


def assess(query: Query, retrieved: Sequence[ScoredChunk], snapshot: Snapshot, analyzer: Analyzer) -> Decision:
    """Decide whether the retrieved chunks answer the question; suggest covered topics when not."""
    if not retrieved:
        return Decision(True, "nothing retrieved")
    signals = evidence(query, retrieved, snapshot, analyzer)
    reason = (
        f"best_item={signals.best_item:.2f} dense={signals.dense:.3f} coverage={signals.coverage:.2f} "
        f"unseen={signals.unseen:.2f} entity_unseen={signals.entity_unseen} entity_missing={signals.entity_missing} "
        f"quantity_missing={signals.quantity_missing} person_missing={signals.person_missing}"
    )
    if signals.quantity_missing or signals.person_missing:
        weak = True
    elif query.language != "fi":
        weak = signals.entity_missing or signals.dense < MIN_DENSE_FOREIGN
    else:
        weak = signals.entity_missing or signals.best_item < MIN_BEST_ITEM and signals.dense < MIN_DENSE
    if weak:
        return Decision(True, reason, suggest_topics(retrieved))
    return Decision(False, reason)


def suggest_topics(retrieved: Sequence[ScoredChunk], limit: int = 3) -> tuple[str, ...]:
    """Headings (else document titles) of the nearest chunks, cleaned and without repeats."""
    topics: dict[str, str] = {}
    for hit in retrieved:
        heading = hit.chunk.heading.split(" > ")[-1] if hit.chunk.heading else hit.chunk.title
        topic = re.sub(r"\s+", " ", heading).strip(" #:-–—>")
        if topic and topic.lower() not in topics:
            topics[topic.lower()] = topic[:1].upper() + topic[1:]
        if len(topics) == limit:
            break
    return tuple(topics.values())
