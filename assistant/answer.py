"""The extractive answerer: quote the sentences and list items of the best chunks that answer the question.

No LLM is needed. Every quotable item (a sentence or a list item, precomputed at ingest with its
lemmas and vector) of the retrieved chunks is scored by the question's content lemmas it covers
(rarer lemmas weigh more; an item's headings and list lead-in count as its context), by the
similarity of its vector to the question vector and by its chunk's retrieval score. An item that
does not mention a place, organisation or person the question names (in itself, its headings or its
document's title) loses ``W_NAMES``: "the Lapland pilot" is not answered from another region's slide.
The answer leads with the best item, then adds items for COVERAGE: each lemma of the question that
some good item has (a compound's parts count as covered: "lainsäädäntö" covers "laki"), the whole
list for a "which/list" question, an item with a number for "how many / when", a name for "who", a
phone number or address for "contact". Quotes are verbatim, each with its [n].
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.layout import Place, layout
from assistant.messages import lead_line, quotes_note
from assistant.query import Query, concept_weights, holds
from ingest.analyze import Analyzer, word_tokens
from ingest.store import Snapshot, StoredSentence
from kysy.models import Answer, Chunk, Citation, ScoredChunk
from kysy.settings import Settings

# Scoring weights of one item (calibrated on the question set, see the module docstring).
W_LEXICAL = 0.7  # share of the question's idf-weighted lemmas in the item or its headings
W_OWN = 1.0  # the same share counting the item's own words only
W_SIMILARITY = 4.75  # item vector . question vector, relative to the best item
W_CHUNK = 1.6  # the chunk's fused retrieval score relative to the best chunk
W_NAMES = 1.0  # share of the question's names missing from the item, its headings and its document's title
KIND_BONUS = 0.6  # a number for "how many", a name for "who", a phone number or address for "contact"
# An item joins the answer for coverage only when it scores within this margin of the lead
# (another chunk must come closer: each extra source is a citation that may be off the point).
MARGIN_SAME = 1.0
MARGIN_OTHER = 0.1
# Items quoted at least, from the lead's chunk, when it has that many on the topic (see FILLER_*).
MIN_ITEMS = 4
# A filler item must hold this share of the question's idf-weighted lemmas, or score within this
# margin of the lead (calibrated: at a share of 0.4 key facts start to go missing).
FILLER_MARGIN = 0.5
FILLER_SHARE = 0.2
LIST_MARGIN = 0.75
# Items a list question may get beyond its list, for what the list does not cover.
LIST_EXTRA = 2
MAX_LIST_ITEMS = 12
MAX_ITEMS = 5
NEAR_DUPLICATE = 0.95
STEM_CHARS = 6

_LIST_WORDS = frozenset(["mitkä", "listaa", "luettele", "luettelo", "millaisia", "keitä", "ketkä", "which", "vilka", "list"])
_NUMBER_WORDS = frozenset(
    ["montako", "paljonko", "monta", "moni", "monella", "paljon", "usein", "milloin", "vuonna", "vuosina", "päivästä", "many", "much", "when", "often", "hur", "många", "mycket", "när"]
)
# Question words that ask for a list when a plural follows them ("Millä tasoilla", "Mitä asioita").
_ASKING_WORDS = frozenset(
    ["millä", "missä", "mihin", "mistä", "mille", "miltä", "minkä", "mitä", "millaisilla", "millaisissa", "millaisiin", "millaisista", "millaiset", "minkälaisia", "minkälaiset", "kenelle", "keille", "keiden"]
)
# Of these, the words asking for a count or an amount ("montako kuntaa"), which a year or a date does not answer.
_COUNT_WORDS = frozenset(["montako", "paljonko", "monta", "moni", "monella", "paljon", "many", "much", "många", "mycket"])
# A cardinal number that is not a date ("27.10."), an ordinal ("1.") or a year.
CARDINAL = re.compile(r"(?<![\d.])(?!(?:19|20)\d\d\b)\d+(?:[ \u00a0]\d{3})*(?![\d.]|\s*%)")
_NAME_WORDS = frozenset(["kuka", "ketkä", "keitä", "kenen", "keneen", "kehen", "who", "whom", "whose", "vem"])
# Words (by their beginning) of a question asking how to reach someone.
_CONTACT_PREFIXES = ("yhteystie", "puhelin", "sähköpost", "yhteyttä", "yhteydessä", "phone", "telephone", "email", "e-mail", "contact", "telefon", "e-post", "kontakt")
_CONTACT_RE = re.compile(r"@|\bp\.\s*\+?\d|\+358|\d{3}\s?\d{3,4}\s?\d{3}")
# A sentence that goes on from the one before it.
_CONTINUES = re.compile(r"(?:[—–-]\s*)?(?:Lisäksi|Myös|Sen lisäksi|Tämän lisäksi|Niiden lisäksi|Samoin|Also|In addition|Dessutom|Även)\b")
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÅÄÖ][\w-]+")
_NAME_LINE = re.compile(r"[A-ZÅÄÖ][a-zåäö]+(?:-[A-ZÅÄÖ][a-zåäö]+)? [A-ZÅÄÖ][a-zåäö]+(?:-[A-ZÅÄÖ][a-zåäö]+)?")


@dataclass(frozen=True)
class Item:
    """One quotable item of a retrieved chunk with its score and place in the chunk's structure."""

    rank: int
    stored: StoredSentence
    terms: frozenset[str]
    score: float
    place: Place
    source: frozenset[str] = frozenset()  # its document's title lemmas and year ("the 2023 news")
    share: float = 0.0  # the idf-weighted share of the question's lemmas in it or its headings

    @property
    def run(self) -> int:
        """The item's list run in its chunk (-1 for prose)."""
        return self.place.run

    @property
    def block(self) -> int:
        """The item's section in its chunk."""
        return self.place.section


def question_kinds(question: str, analyzer: Analyzer | None = None) -> set[str]:
    """What the question asks for: any of "list", "number" (with "count" for an amount), "name", "contact".

    With an analyzer, a question word before a plural ("Millä tasoilla", "Missä asioissa") asks for a list.
    """
    tokens = word_tokens(question)
    words = set(tokens)
    kinds = set()
    if any(word.startswith(_CONTACT_PREFIXES) for word in words):
        kinds.add("contact")
    if words & _LIST_WORDS or analyzer is not None and _asks_plural(tokens, analyzer):
        kinds.add("list")
    if words & _NUMBER_WORDS:
        kinds.add("number")
    if words & _COUNT_WORDS:
        kinds.add("count")
    if words & _NAME_WORDS:
        kinds.add("name")
    return kinds


def _asks_plural(tokens: Sequence[str], analyzer: Analyzer) -> bool:
    for i, word in enumerate(tokens[:-1]):
        if word not in _ASKING_WORDS:
            continue
        following = analyzer.analyze_word(tokens[i + 1])
        if following.case == "omanto" and not following.plural and i + 2 < len(tokens):
            following = analyzer.analyze_word(tokens[i + 2])  # after a genitive: "Millä toiminnan tasoilla"
        if following.plural and following.case != "keinonto":  # "millä tavoin" asks how
            return True
    return False


class Matcher:
    """Which of the question's lemmas a term stands for: the lemma itself, a synonym of it, or a
    derivation of either ("rahoittaja" covers "rahoittaa"). Worked out once per term and answer."""

    def __init__(self, query: Query) -> None:
        self._forms = [(lemma, form, _stem(form)) for lemma in query.lemmas for form in query.variants(lemma)]
        self._cache: dict[str, frozenset[str]] = {}

    def lemmas_of(self, term: str) -> frozenset[str]:
        """The question's lemmas that ``term`` covers."""
        found = self._cache.get(term)
        if found is None:
            found = self._cache[term] = frozenset(
                lemma for lemma, form, stem in self._forms if term == form or (stem and term.startswith(stem))
            )
        return found

    def covered(self, terms: Iterable[str]) -> set[str]:
        """The question's lemmas that any of ``terms`` covers."""
        result: set[str] = set()
        for term in terms:
            result |= self.lemmas_of(term)
        return result


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
    matcher = Matcher(query)
    kinds = question_kinds(question, analyzer)
    items = score_items(kinds, query, retrieved, snapshot, analyzer, matcher)
    if not items:
        return Answer("", (), tuple(retrieved), True, language, "extractive")
    chosen = select_items(kinds, query, items, analyzer, matcher, max_items=settings.answer_max_items)
    return render(chosen, retrieved, snapshot, language)


def score_items(
    kinds: set[str],
    query: Query,
    retrieved: Sequence[ScoredChunk],
    snapshot: Snapshot,
    analyzer: Analyzer,
    matcher: Matcher | None = None,
) -> list[Item]:
    """Every quotable item of the retrieved chunks, scored against the question (``kinds``: what it
    asks for, see ``question_kinds``)."""
    matcher = matcher or Matcher(query)
    wanted = concept_weights(query, snapshot.keyword)
    total = sum(wanted.values()) or 1.0
    stored = snapshot.sentences([hit.chunk.id for hit in retrieved])
    top_score = max((hit.score for hit in retrieved), default=1.0) or 1.0
    sources = {hit.chunk.doc_id: document_terms(hit.chunk, snapshot, analyzer) for hit in retrieved}
    raw: list[tuple[float, int, StoredSentence, frozenset[str], Place, float, frozenset[str], float]] = []
    for rank, hit in enumerate(retrieved):
        places = layout(hit.chunk, stored.get(hit.chunk.id, []))
        context = analyzer.content_lemmas(hit.chunk.heading)
        headings: dict[str, set[str]] = {}
        for item, place in zip(stored.get(hit.chunk.id, []), places, strict=True):
            own = set(item.terms)
            if place.heading not in headings:
                headings[place.heading] = analyzer.content_lemmas(place.heading)
            terms = frozenset(own | context | headings[place.heading])
            in_terms, in_own = matcher.covered(terms), matcher.covered(own)
            lexical = sum(w for lemma, w in wanted.items() if lemma in in_terms) / total
            own_share = sum(w for lemma, w in wanted.items() if lemma in in_own) / total
            similarity = float(item.vector @ query.vector) if item.vector is not None else 0.0
            bonus = KIND_BONUS * _kind_match(kinds, item.sentence.text)
            missing = _missing_names(query.names, in_terms | matcher.covered(sources[hit.chunk.doc_id]))
            base = W_LEXICAL * lexical + W_OWN * own_share + W_CHUNK * hit.score / top_score + bonus - W_NAMES * missing
            raw.append((base, rank, item, terms, place, similarity, sources[hit.chunk.doc_id], lexical))
    best_similarity = max((entry[5] for entry in raw), default=0.0)
    return sorted(
        (
            Item(rank, item, terms, base + W_SIMILARITY * (similarity - best_similarity), place, source, share)
            for base, rank, item, terms, place, similarity, source, share in raw
        ),
        key=lambda entry: -entry.score,
    )


def document_terms(chunk: Chunk, snapshot: Snapshot, analyzer: Analyzer) -> frozenset[str]:
    """The lemmas of the chunk's document title, and the document's year."""
    info = snapshot.documents.get(chunk.doc_id)
    year = {str(info.year)} if info is not None and info.year else set()
    return frozenset(analyzer.content_lemmas(chunk.title) | year)


def _missing_names(names: Collection[str], covered: Collection[str]) -> float:
    """The share of the question's names (places, organisations, people) not among the lemmas an item covers."""
    if not names:
        return 0.0
    return sum(1 for name in names if name not in covered) / len(names)


def matches(lemma: str, terms: Collection[str]) -> bool:
    """Whether ``lemma`` or a derivation of it is among ``terms`` ("rahoittaa" ~ "rahoittaja").

    Derivations share the lemma's stem: all but its last two letters, at least ``STEM_CHARS``.
    """
    if lemma in terms:
        return True
    stem = _stem(lemma)
    return stem is not None and any(term.startswith(stem) for term in terms)


def _stem(lemma: str) -> str | None:
    """What derivations of ``lemma`` share: all but its last two letters, at least ``STEM_CHARS``."""
    size = max(STEM_CHARS, len(lemma) - 2)
    return lemma[:size] if len(lemma) >= size else None


def _kind_match(kinds: set[str], text: str) -> float:
    score = 0.0
    if "number" in kinds:
        has_number = CARDINAL.search(text) if "count" in kinds else any(ch.isdigit() for ch in text)
        score += 1.0 if has_number else 0.0
    if "name" in kinds and _NAME_RE.search(text):
        score += 1.0
    if "contact" in kinds and _CONTACT_RE.search(text):
        score += 1.0
    return score


def select_items(
    kinds: set[str], query: Query, items: Sequence[Item], analyzer: Analyzer, matcher: Matcher, *, max_items: int
) -> list[Item]:
    """The lead item, then items that cover what the question asks (see the module docstring)."""
    contact = "contact" in kinds
    usable = [entry for entry in items if not _is_lead_in(entry) and (contact or not _is_contact(entry))]
    if not usable:
        usable = list(items)
    lead = usable[0]
    chosen = [lead]
    if "list" in kinds:
        chosen.extend(_whole_list(lead, usable, matcher))
    elif lead.run >= 0:
        siblings = [e for e in usable if e.rank == lead.rank and e.run == lead.run and e is not lead]
        chosen.extend(e for e in siblings[:2] if e.score >= lead.score - MARGIN_SAME)
    limit = max(MAX_ITEMS, len(chosen) + LIST_EXTRA) if "list" in kinds else min(MAX_ITEMS, max_items)
    # A lemma counts as covered by what the answer shows: within the lead's source an item's own
    # words (its heading is not quoted with it); from another source, also its headings.
    shown = matcher.covered(set().union(*(_covered_by(entry, analyzer) for entry in chosen)))
    near = shown | matcher.covered(set().union(*(entry.terms for entry in chosen)))
    for item in usable[1:]:
        same = item.rank == lead.rank
        uncovered = [lemma for lemma in query.lemmas if lemma not in (shown if same else near)]
        if len(chosen) >= limit or not uncovered:
            break
        terms = _covered_by(item, analyzer) if same else item.terms
        adds = any(holds(query, lemma, terms) for lemma in uncovered)
        margin = MARGIN_SAME if same else MARGIN_OTHER
        if item.score >= lead.score - margin and adds and not _duplicate(item, chosen):
            chosen.append(item)
            shown |= matcher.covered(_covered_by(item, analyzer))
            near |= shown | matcher.covered(item.terms)
    for item in usable[1:]:
        if len(chosen) >= MIN_ITEMS:
            break
        # context from the lead's source; a heading is quoted for what it says, never as filler
        if item.rank == lead.rank and item not in chosen and not item.stored.sentence.is_heading \
                and _on_topic(item, lead) and not _duplicate(item, chosen):
            chosen.append(item)
    if "number" in kinds and not any(_has_digit(entry) for entry in chosen):
        numbers = [e for e in usable if _has_digit(e) and e.score >= lead.score - MARGIN_OTHER]
        chosen.extend(numbers[:1])
    return chosen + _continuations(chosen, items)


def _continuations(chosen: Sequence[Item], items: Sequence[Item]) -> list[Item]:
    """The sentences that go on from a quoted prose sentence ("Lisäksi ...", "Myös ..."), and the
    sentence a quoted one goes on from."""
    by_place = {(item.rank, item.stored.sentence.ord): item for item in items}
    quoted = {(item.rank, item.stored.sentence.ord) for item in chosen}
    added: list[Item] = []
    for item in chosen:
        if item.run >= 0:
            continue
        ord_ = item.stored.sentence.ord
        before, after = by_place.get((item.rank, ord_ - 1)), by_place.get((item.rank, ord_ + 1))
        neighbours = []
        if after is not None and _CONTINUES.match(after.stored.sentence.text):
            neighbours.append(after)
        if before is not None and _CONTINUES.match(item.stored.sentence.text):
            neighbours.append(before)
        for other in neighbours:
            key = (other.rank, other.stored.sentence.ord)
            if other.run < 0 and not other.stored.sentence.is_heading and key not in quoted:
                added.append(other)
                quoted.add(key)
    return added


def _on_topic(item: Item, lead: Item) -> bool:
    """Whether a filler item says something of what was asked: ``FILLER_SHARE`` of the question's
    idf-weighted lemmas in its words or headings (a common word alone is not enough), or a score
    within ``FILLER_MARGIN`` of the lead's."""
    return item.share >= FILLER_SHARE or item.score >= lead.score - FILLER_MARGIN


def _covered_by(item: Item, analyzer: Analyzer) -> set[str]:
    """What a quoted item shows of a question: its own terms (a list item's also its heading's, as the
    list is shown under it), its words' compound parts ("lainsäädäntö" covers "laki") and its
    document's title and year."""
    shown = item.terms if item.run >= 0 else item.stored.terms  # a list is shown under its heading
    return {*shown, *analyzer.terms(item.stored.sentence.text), *item.source}


def _has_digit(item: Item) -> bool:
    return any(ch.isdigit() for ch in item.stored.sentence.text)


def _is_lead_in(item: Item) -> bool:
    return item.place.introduces or item.stored.sentence.text.rstrip().endswith(":")


def _is_contact(item: Item) -> bool:
    """A phone number or address, or a line that is nothing but a person's name (a slide's contact)."""
    text = item.stored.sentence.text.strip()
    return bool(_CONTACT_RE.search(text) or _NAME_LINE.fullmatch(text))


def _whole_list(lead: Item, items: Sequence[Item], matcher: Matcher) -> list[Item]:
    """The lead's list run, plus the best run of each of the chunk's other sections.

    A prose lead brings the list that follows it (it is that list's lead-in), else the best list of
    its own section when that list scores within ``LIST_MARGIN`` of it.
    """
    same_chunk = [entry for entry in items if entry.rank == lead.rank and entry.run >= 0]
    if not same_chunk:
        return []
    if lead.run < 0:
        following = [entry for entry in same_chunk if entry.stored.sentence.ord == lead.stored.sentence.ord + 1]
        following = following or [
            entry for entry in same_chunk
            if entry.block == lead.block and entry.score >= lead.score - LIST_MARGIN and matcher.covered(entry.terms)
        ]
        if not following and lead.stored.sentence.is_heading:  # a heading over the lists of its sections
            following = sorted(
                (entry for entry in same_chunk if entry.stored.sentence.ord > lead.stored.sentence.ord),
                key=lambda entry: entry.stored.sentence.ord,
            )[:1]
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
    """Lay the chosen items out: the lead (or the lead's list, in the source's order) first, then per
    source in document order, lists under their lead-in."""
    lead = chosen[0]
    order = list(dict.fromkeys(entry.rank for entry in chosen))
    ordered = sorted(
        chosen if lead.run >= 0 else chosen[1:],
        key=lambda e: (order.index(e.rank), (e.rank, e.run) != (lead.rank, lead.run), e.stored.sentence.ord),
    )
    citations: dict[int, Citation] = {}
    lines = [lead_line(language)]
    shown_heading: set[tuple[int, int]] = set()
    # a list is not put under a heading line that the answer already quotes
    quoted_headings = {(e.rank, e.stored.sentence.text) for e in chosen if e.stored.sentence.is_heading}
    opening = [lead]
    if lead.run < 0 and _CONTINUES.match(lead.stored.sentence.text):  # "Myös ..." after what it goes on from
        before = [e for e in ordered if e.rank == lead.rank and e.stored.sentence.ord == lead.stored.sentence.ord - 1]
        opening = [*before, lead]
        ordered = [e for e in ordered if e not in before]
    for entry in ordered if lead.run >= 0 else [*opening, *ordered]:
        citation = citations.get(entry.rank)
        if citation is None:
            quoted = next(item for item in chosen if item.rank == entry.rank)  # the source's best item
            citation = citations[entry.rank] = _citation(len(citations) + 1, retrieved[entry.rank].chunk, quoted, snapshot)
        sentence = entry.stored.sentence
        if sentence.is_list_item or entry.run >= 0:
            key = (entry.rank, entry.run)
            heading = _lead_in(entry, chosen)
            if key not in shown_heading and heading and (entry.rank, heading) not in quoted_headings:
                lines.append(f"{heading}:")
            shown_heading.add(key)
            lines.append(f"- {sentence.text} [{citation.n}]")
        else:
            lines.append(f"{sentence.text} [{citation.n}]")
    note = quotes_note(language)
    text = "\n".join(lines + ([note] if note else []))
    return Answer(text, tuple(citations.values()), tuple(retrieved), False, language, "extractive")


def _lead_in(entry: Item, chosen: Sequence[Item]) -> str:
    """The heading a list is shown under: when two of its items are quoted, or lists of two sections."""
    members = [item for item in chosen if item.rank == entry.rank and item.run == entry.run]
    sections = {item.block for item in chosen if item.rank == entry.rank and item.run >= 0}
    if len(members) < 2 and len(sections) < 2:
        return ""
    return entry.place.heading.rstrip(":").strip()


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
