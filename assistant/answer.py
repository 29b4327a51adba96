"""The extractive answerer: quote the sentences and list items of the best chunks that answer the question.

No LLM is needed. Every quotable item (a sentence or a list item, precomputed at ingest with its
lemmas and vector) of the retrieved chunks is scored by the question's content lemmas it covers
(rarer lemmas weigh more), by the similarity of its vector to the question vector and by its
chunk's retrieval score. The answer leads with the best item, then adds items for COVERAGE: each
lemma of the question that some good item has, the whole list for a "which/list" question, an item
with a number for "how many / when", a name for "who". Quotes are verbatim, each with its [n].
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.messages import lead_line, quotes_note
from assistant.retrieve import Query
from ingest.analyze import Analyzer, word_tokens
from ingest.store import Snapshot, StoredSentence
from kysy.models import Answer, Chunk, Citation, ScoredChunk
from kysy.settings import Settings

# Scoring weights of one item (calibrated on the question set, see the module docstring).
W_LEXICAL = 1.0  # share of the question's idf-weighted lemmas in the item or its headings
W_OWN = 1.0  # the same share counting the item's own words only
W_SIMILARITY = 4.0  # item vector . question vector, relative to the best item
W_CHUNK = 1.6  # the chunk's fused retrieval score relative to the best chunk
KIND_BONUS = 0.6  # a number for "how many", a name for "who"
# An item joins the answer for coverage only when it scores within this margin of the lead
# (another chunk must come closer: each extra source is a citation that may be off the point).
MARGIN_SAME = 1.0
MARGIN_OTHER = 0.1
# Items quoted at least (from the lead's chunk, when it has them).
MIN_ITEMS = 4
MAX_LIST_ITEMS = 12
MAX_ITEMS = 5
SHORT_ITEM_WORDS = 14
NEAR_DUPLICATE = 0.95
STEM_CHARS = 6

_LIST_WORDS = frozenset(["mitkä", "listaa", "luettele", "luettelo", "millaisia", "keitä", "ketkä", "which", "vilka", "list"])
_NUMBER_WORDS = frozenset(
    ["montako", "paljonko", "monta", "moni", "monella", "paljon", "usein", "milloin", "vuonna", "vuosina", "päivästä", "many", "much", "when", "often", "hur", "många", "mycket", "när"]
)
_NAME_WORDS = frozenset(["kuka", "ketkä", "keitä", "kenen", "keneen", "kehen", "who", "whom", "whose", "vem"])
_CONTACT_WORDS = frozenset(["yhteystiedot", "puhelin", "puhelinnumero", "sähköposti", "yhteyttä", "yhteydessä", "phone", "email", "contact", "telefon"])
_CONTACT_RE = re.compile(r"@|\bp\.\s*\+?\d|\+358|\d{3}\s?\d{3,4}\s?\d{3}")
_HEADING_LINE = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÅÄÖ][\w-]+")


@dataclass(frozen=True)
class Item:
    """One quotable item of a retrieved chunk with its score and place in the chunk's structure."""

    rank: int
    stored: StoredSentence
    terms: frozenset[str]
    score: float
    block: int
    run: int


def question_kinds(question: str) -> set[str]:
    """What the question asks for: any of "list", "number", "name"."""
    words = set(word_tokens(question))
    kinds = set()
    if words & _LIST_WORDS:
        kinds.add("list")
    if words & _NUMBER_WORDS:
        kinds.add("number")
    if words & _NAME_WORDS:
        kinds.add("name")
    return kinds


def lemma_weights(lemmas: set[str], snapshot: Snapshot) -> dict[str, float]:
    """idf weight of each lemma; a lemma absent from the index gets the weight of a one-chunk term."""
    return {lemma: snapshot.idf(lemma) for lemma in lemmas}


def extractive_answer(
    question: str,
    query: Query,
    retrieved: Sequence[ScoredChunk],
    snapshot: Snapshot,
    analyzer: Analyzer,
    *,
    language: str,
    settings: Settings,
) -> Answer:
    """Build an answer from quoted items of ``retrieved``, each with its citation [n]."""
    items = score_items(question, query, retrieved, snapshot, analyzer)
    if not items:
        return Answer("", (), tuple(retrieved), True, language, "extractive")
    chosen = select_items(question, items, analyzer, snapshot, max_items=settings.answer_max_items)
    return render(chosen, retrieved, snapshot, language)


def score_items(
    question: str, query: Query, retrieved: Sequence[ScoredChunk], snapshot: Snapshot, analyzer: Analyzer
) -> list[Item]:
    """Every quotable item of the retrieved chunks, scored against the question."""
    wanted = lemma_weights(analyzer.content_lemmas(question), snapshot)
    total = sum(wanted.values()) or 1.0
    kinds = question_kinds(question)
    stored = snapshot.sentences([hit.chunk.id for hit in retrieved])
    top_score = max((hit.score for hit in retrieved), default=1.0) or 1.0
    raw: list[tuple[float, int, StoredSentence, frozenset[str], int, int, float]] = []
    for rank, hit in enumerate(retrieved):
        structure = _structure(hit.chunk, stored.get(hit.chunk.id, []))
        context = analyzer.content_lemmas(hit.chunk.heading)
        for item, (block, run, local_heading) in zip(stored.get(hit.chunk.id, []), structure, strict=True):
            own = set(item.terms)
            terms = frozenset(own | context | analyzer.content_lemmas(local_heading))
            lexical = sum(w for lemma, w in wanted.items() if matches(lemma, terms)) / total
            own_share = sum(w for lemma, w in wanted.items() if matches(lemma, own)) / total
            similarity = float(item.vector @ query.vector) if item.vector is not None else 0.0
            bonus = KIND_BONUS * _kind_match(kinds, item.sentence.text)
            base = W_LEXICAL * lexical + W_OWN * own_share + W_CHUNK * hit.score / top_score + bonus
            raw.append((base, rank, item, terms, block, run, similarity))
    best_similarity = max((entry[-1] for entry in raw), default=0.0)
    return sorted(
        (
            Item(rank, item, terms, base + W_SIMILARITY * (similarity - best_similarity), block, run)
            for base, rank, item, terms, block, run, similarity in raw
        ),
        key=lambda entry: -entry.score,
    )


def matches(lemma: str, terms: Collection[str]) -> bool:
    """Whether ``lemma`` or a derivation of it is among ``terms`` ("rahoittaa" ~ "rahoittaja").

    Derivations share the lemma's stem: all but its last two letters, at least ``STEM_CHARS``.
    """
    if lemma in terms:
        return True
    size = max(STEM_CHARS, len(lemma) - 2)
    if len(lemma) < size:
        return False
    stem = lemma[:size]
    return any(term.startswith(stem) for term in terms)


def _kind_match(kinds: set[str], text: str) -> float:
    score = 0.0
    if "number" in kinds and any(ch.isdigit() for ch in text):
        score += 1.0
    if "name" in kinds and _NAME_RE.search(text):
        score += 1.0
    return score


def _structure(chunk: Chunk, items: Sequence[StoredSentence]) -> list[tuple[int, int, str]]:
    """(block, run, local heading) per item: blocks split at heading lines, runs group consecutive short items."""
    headings = [(match.start(), match.group(1).strip()) for match in _HEADING_LINE.finditer(chunk.text)]
    local = chunk.heading.split(" > ")[-1] if chunk.heading else ""
    result: list[tuple[int, int, str]] = []
    block = run = 0
    previous_short = False
    for item in items:
        passed = [text for start, text in headings if start < item.sentence.start]
        if len(passed) != block:
            block, previous_short = len(passed), False
            run += 1
        short = item.sentence.is_list_item or _is_short_line(item.sentence.text)
        if short != previous_short or not short:
            run += 1
        previous_short = short
        result.append((block, run if short else -1, passed[-1] if passed else local))
    return result


def _is_short_line(text: str) -> bool:
    return len(text.split()) <= SHORT_ITEM_WORDS and not text.rstrip().endswith((".", "?", "!"))


def select_items(
    question: str, items: Sequence[Item], analyzer: Analyzer, snapshot: Snapshot, *, max_items: int
) -> list[Item]:
    """The lead item, then items that cover what the question asks (see the module docstring)."""
    kinds = question_kinds(question)
    contact = bool(set(word_tokens(question)) & _CONTACT_WORDS)
    usable = [entry for entry in items if not _is_lead_in(entry) and (contact or not _is_contact(entry))]
    if not usable:
        usable = list(items)
    lead = usable[0]
    chosen = [lead]
    if "list" in kinds:
        chosen.extend(_whole_list(lead, usable))
    elif lead.run >= 0:
        siblings = [e for e in usable if e.rank == lead.rank and e.run == lead.run and e is not lead]
        chosen.extend(e for e in siblings[:2] if e.score >= lead.score - MARGIN_SAME)
    wanted = set(lemma_weights(analyzer.content_lemmas(question), snapshot))
    limit = max(MAX_ITEMS, len(chosen)) if "list" in kinds else min(MAX_ITEMS, max_items)
    for item in usable[1:]:
        if len(chosen) >= limit:
            break
        covered = set().union(*(entry.terms for entry in chosen))
        margin = MARGIN_SAME if item.rank == lead.rank else MARGIN_OTHER
        if item.score >= lead.score - margin and (wanted - covered) & item.terms and not _duplicate(item, chosen):
            chosen.append(item)
    for item in usable[1:]:
        if len(chosen) >= MIN_ITEMS:
            break
        if item.rank == lead.rank and item not in chosen and not _duplicate(item, chosen):
            chosen.append(item)
    if "number" in kinds and not any(_has_digit(entry) for entry in chosen):
        numbers = [e for e in usable if _has_digit(e) and e.score >= lead.score - MARGIN_OTHER]
        chosen.extend(numbers[:1])
    return chosen


def _has_digit(item: Item) -> bool:
    return any(ch.isdigit() for ch in item.stored.sentence.text)


def _is_lead_in(item: Item) -> bool:
    return item.stored.sentence.text.rstrip().endswith(":")


def _is_contact(item: Item) -> bool:
    return bool(_CONTACT_RE.search(item.stored.sentence.text))


def _whole_list(lead: Item, items: Sequence[Item]) -> list[Item]:
    """The lead's list run (or the best run of its chunk), plus the runs of the chunk's other blocks."""
    same_chunk = [entry for entry in items if entry.rank == lead.rank and entry.run >= 0]
    if not same_chunk:
        return []
    if lead.run < 0:
        # a prose lead brings the list only when the list follows it directly (its lead-in)
        following = [entry for entry in same_chunk if entry.stored.sentence.ord == lead.stored.sentence.ord + 1]
        if not following:
            return []
    run = lead.run if lead.run >= 0 else following[0].run
    block = next(entry.block for entry in same_chunk if entry.run == run)
    best_run_of_block: dict[int, int] = {}
    for entry in same_chunk:
        best_run_of_block.setdefault(entry.block, entry.run)
    best_run_of_block[block] = run
    runs = set(best_run_of_block.values())
    members = [entry for entry in same_chunk if entry.run in runs and entry is not lead]
    members.sort(key=lambda entry: entry.stored.sentence.ord)
    return members[: MAX_LIST_ITEMS - 1]


def _duplicate(item: Item, chosen: Sequence[Item]) -> bool:
    text = item.stored.sentence.text.strip().lower()
    for entry in chosen:
        if entry.stored.sentence.text.strip().lower() == text:
            return True
        both = item.stored.vector is not None and entry.stored.vector is not None
        if both and float(np.dot(item.stored.vector, entry.stored.vector)) > NEAR_DUPLICATE:  # type: ignore[arg-type]
            return True
    return False


def render(chosen: Sequence[Item], retrieved: Sequence[ScoredChunk], snapshot: Snapshot, language: str) -> Answer:
    """Lay the chosen items out: lead first, then per source in document order, lists under their lead-in."""
    lead, rest = chosen[0], list(chosen[1:])
    order = list(dict.fromkeys([lead.rank, *(entry.rank for entry in rest)]))
    rest.sort(key=lambda e: (order.index(e.rank), (e.rank, e.run) != (lead.rank, lead.run), e.stored.sentence.ord))
    citations: dict[int, Citation] = {}
    lines = [lead_line(language)]
    shown_heading: set[tuple[int, int]] = set()
    for entry in [lead, *rest]:
        citation = citations.get(entry.rank) or _citation(len(citations) + 1, retrieved[entry.rank].chunk, entry, snapshot)
        citations[entry.rank] = citation
        sentence = entry.stored.sentence
        if sentence.is_list_item or entry.run >= 0:
            key = (entry.rank, entry.run)
            heading = _lead_in(entry, chosen, retrieved[entry.rank].chunk)
            if key not in shown_heading and heading:
                lines.append(heading)
            shown_heading.add(key)
            lines.append(f"- {sentence.text} [{citation.n}]")
        else:
            lines.append(f"{sentence.text} [{citation.n}]")
    note = quotes_note(language)
    text = "\n".join(lines + ([note] if note else []))
    return Answer(text, tuple(citations.values()), tuple(retrieved), False, language, "extractive")


def _lead_in(entry: Item, chosen: Sequence[Item], chunk: Chunk) -> str:
    """The heading a list is shown under, unless the list follows a quoted lead-in sentence."""
    members = [item for item in chosen if item.rank == entry.rank and item.run == entry.run]
    if len(members) < 2:
        return ""
    headings = [match.group(1).strip() for match in _HEADING_LINE.finditer(chunk.text[: entry.stored.sentence.start])]
    heading = headings[-1] if headings else chunk.heading.split(" > ")[-1]
    return f"{heading}:" if heading else ""


def _citation(n: int, chunk: Chunk, entry: Item, snapshot: Snapshot) -> Citation:
    info = snapshot.documents.get(chunk.doc_id)
    return Citation(
        n=n,
        chunk_id=chunk.id,
        doc_id=chunk.doc_id,
        file=chunk.file,
        title=chunk.title,
        page=chunk.page,
        quote=entry.stored.sentence.text,
        url=citation_url(info.url if info else None, chunk),
    )


def citation_url(document_url: str | None, chunk: Chunk) -> str:
    """The document's own address, else the served file (with ``#page=N`` for a paged document)."""
    if document_url:
        return document_url
    url = f"/api/documents/{chunk.doc_id}/file"
    return f"{url}#page={chunk.page}" if chunk.page else url
