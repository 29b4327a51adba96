"""The evidence stage: every candidate item of the retrieved chunks, with its signals computed once.

A candidate is a quotable item (a sentence, a list item or a stated heading, split at ingest) of one
of the retrieved chunks, with its place in the chunk's structure (``assistant/layout.py``). Its
signals, the features of the scoring and answerability models, are:

- ``similarity``: the item's vector against the question's, and ``similarity_gap`` to the best item;
  ``context_similarity`` (and ``context_gap``) the same for the item read under its document's title and
  its heading (its second stored vector, ``ingest.pipeline.in_context``; an index without one gives
  ``similarity``): a slide line or a list item with its slide's or section's subject;
- ``lexical``: the idf-weighted share of the question's concepts in the item, its headings and its
  document's title, year and kind ("vuoden 2023 uutisessa", "diaesityksen mukaan": ``document_terms``;
  ``assistant/matcher.py``), and ``lexical_gap`` to the best candidate's;
  ``lexical_own`` (and ``own_gap``) in the item alone; ``heading_lexical`` in its headings and title
  alone; ``neighbour`` the best ``lexical_own`` of the items next to it; ``rarest`` the idf of the
  rarest concept it covers relative to the question's rarest;
- ``bm25``: BM25 of the item among the candidates, relative to the best; ``prefix_bm25`` the same over
  the words' first ``PREFIX`` letters (no analysis: names and words Voikko does not know still meet);
- ``chunk_score`` (the chunk's fused retrieval score relative to the best chunk's), ``chunk_rank``,
  ``chunk_dense`` (its dense similarity) and ``chunk_coverage`` (the share of the question it holds);
  ``position`` of the item in its chunk;
- the item's kind (``is_list_item``, ``is_heading``, ``is_lead_in``), ``words`` (its length) and
  ``enumerates`` (its commas and coordinators, ``words/coordinators.txt``: a sentence that lists things);
- ``kind_match``: the item holds a kind of fact the question asks (a count, a date, a person, a place,
  ...: ``assistant/entities.py``), with ``kind_asked`` saying whether the question asks one; ``names_missing``: the share of the names the
  question mentions that neither the item, its headings nor its document's title holds;
- question-wide: ``question_concepts`` (how many concepts it has), ``asks_list``.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.entities import KINDS, holds
from assistant.intent import Intent
from assistant.layout import Place, layout
from assistant.lexicon import word_list, word_set
from assistant.matcher import Matcher, weighted_share
from assistant.query import Query, concept_weights
from ingest import stopwords
from ingest.analyze import Analyzer, word_tokens
from ingest.keyword import KeywordIndex
from ingest.store import Snapshot, StoredSentence
from kysy.models import DocumentInfo, ScoredChunk

# ``documents_by_term`` of each live snapshot.
_BY_TERM: weakref.WeakKeyDictionary[Snapshot, tuple[Analyzer, dict[str, frozenset[str]]]] = weakref.WeakKeyDictionary()

# ``_lemmas`` of each live analyzer: a title's or heading's content lemmas.
_LEMMAS: weakref.WeakKeyDictionary[Analyzer, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()

# Letters of a word that ``prefix_bm25`` compares (a stemmer-free match, robust to unknown words).
PREFIX = 5
# Item texts whose word prefixes and listing words are kept between questions (a text is a few hundred bytes).
TEXT_CACHE = 65536
FEATURES = (
    "similarity", "similarity_gap", "context_similarity", "context_gap", "lexical", "lexical_gap", "lexical_own",
    "own_gap", "heading_lexical", "neighbour", "rarest", "bm25", "prefix_bm25", "chunk_score", "chunk_rank",
    "chunk_dense", "chunk_coverage", "position",
    "is_list_item", "is_heading", "is_lead_in", "words", "enumerates", "kind_match", "kind_asked", "names_missing",
    "question_concepts", "asks_list",
)


@dataclass(frozen=True)
class Candidate:
    """One quotable item of a retrieved chunk, with its place and its signals (``FEATURES`` order)."""

    rank: int  # the chunk's 0-based rank among the retrieved
    stored: StoredSentence
    place: Place
    terms: frozenset[str]  # the item's terms with its headings' and its document's title lemmas
    features: tuple[float, ...]
    covers: frozenset[str] = frozenset()  # the question's concepts the item's own words cover
    source: frozenset[str] = frozenset()  # the question's concepts its document's year and kind cover
    template: bool = False  # a line of the site's template (``Snapshot.template_lines``): never quoted
    document: str = ""  # the id of the document its chunk is from

    @property
    def text(self) -> str:
        """The item's text."""
        return self.stored.sentence.text

    def feature(self, name: str) -> float:
        """One signal by name."""
        return self.features[FEATURES.index(name)]

    @functools.cached_property
    def introduces(self) -> bool:
        """A lead-in ("Periaatteet:"), or a line outside a list that asks ("Mihin teemoihin halutaan keskittyä?": a
        slide's question opens what follows it and answers nothing itself; a list item that asks, "Yhteistyön
        johtamisen haaste: kuka johtaa?", states a finding)."""
        text = self.text.rstrip()
        return self.place.introduces or text.endswith(":") or (text.endswith("?") and self.place.run < 0)

    @functools.cached_property
    def goes_on(self) -> bool:
        """Whether the item opens by going on from the sentence before it or pointing back to it ("Lisäksi ...",
        "Tästä esimerkkinä ...": ``words/continuations.txt``, matched on its first three words)."""
        start = " ".join(self.text.lower().lstrip("—–- ").split()[:3])
        return any(start == opening or start.startswith(opening + " ") or start.startswith(opening + ",")
                   for opening in word_list("continuations"))

    @functools.cached_property
    def folded(self) -> str:
        """The item's text as two items are compared for saying the same (case and outer spaces aside)."""
        return self.text.strip().lower()


@dataclass(frozen=True)
class Evidence:
    """All candidates of one question, in chunk order then item order."""

    candidates: tuple[Candidate, ...]
    weights: dict[str, float]  # the question's concepts with their idf weights

    def matrix(self) -> np.ndarray:
        """The candidates' features as an (n, len(FEATURES)) float array."""
        return np.array([c.features for c in self.candidates], dtype=np.float64).reshape(-1, len(FEATURES))

    # The candidates' structure, worked out once per question: the selection reads it under every set of
    # numbers it is tried with (``make train``), and it depends on none of them.

    @functools.cached_property
    def by_place(self) -> Mapping[tuple[int, int], int]:
        """Each candidate's index by its place: its chunk's rank and its order in the chunk."""
        return {(c.rank, c.stored.sentence.ord): i for i, c in enumerate(self.candidates)}

    @functools.cached_property
    def by_chunk(self) -> Mapping[int, tuple[int, ...]]:
        """The candidates' indices by their chunk's rank, in item order."""
        chunks: dict[int, list[int]] = {}
        for i, candidate in enumerate(self.candidates):
            chunks.setdefault(candidate.rank, []).append(i)
        return {rank: tuple(indices) for rank, indices in chunks.items()}

    @functools.cached_property
    def template(self) -> frozenset[int]:
        """The indices of the lines of the site's template (``Candidate.template``)."""
        return frozenset(i for i, candidate in enumerate(self.candidates) if candidate.template)

    @functools.cached_property
    def signatures(self) -> frozenset[int]:
        """The list items that sign a passage (a slide's closing lines): a way to reach someone ("p. 358 50 5899
        187", an e-mail address) and the short item naming whom right before it. A prose sentence never signs
        ("väkiluku 12 345 678" is no phone number)."""
        items = {(c.rank, c.stored.sentence.ord): c for c in self.candidates if c.place.run >= 0}
        contacts = {key for key, c in items.items() if holds("contact", c.text)}

        def signs(item: Candidate) -> bool:
            key, after = (item.rank, item.stored.sentence.ord), (item.rank, item.stored.sentence.ord + 1)
            return key in contacts or (after in contacts and items[after].place.run == item.place.run
                                       and len(item.text.split()) <= 3)

        return frozenset(i for i, candidate in enumerate(self.candidates) if candidate.place.run >= 0 and signs(candidate))


@dataclass(frozen=True)
class Part:
    """One part of a question of several parts (``Intent.parts``): what it asks, and the whole question's
    candidates with their signals against this part alone."""

    intent: Intent
    evidence: Evidence


@dataclass(frozen=True)
class Looked:
    """A question after the stages before scoring: prepared, retrieved (every candidate chunk, best
    first), understood, and its evidence gathered from the first ``gathered`` chunks (the top ``top_k``, the
    best passages of the documents it names, ``named_sources``, and each part's own best, ``part_sources``);
    for a question of several parts (``Intent.parts``), the same candidates' evidence for each part on its own."""

    query: Query
    retrieved: tuple[ScoredChunk, ...]
    intent: Intent
    evidence: Evidence
    gathered: int  # the first ``gathered`` of ``retrieved`` are the chunks the evidence was gathered from
    parts: tuple[Part, ...] = ()


def named_sources(query: Query, retrieved: Sequence[ScoredChunk], top_k: int, snapshot: Snapshot,
                  analyzer: Analyzer, per_document: int, most: int) -> list[ScoredChunk]:
    """The best ``per_document`` chunks of ``retrieved`` past the first ``top_k`` of each document the question
    names by its year or kind ("vuosien 2022 ja 2024 uutisissa", "diaesityksen mukaan") when the name fits at
    most ``most`` documents, in retrieval order: a named document speaks from its own best passages, not only
    from its title or whatever of it the fusion happened to rank first."""
    if per_document <= 0:
        return []
    matcher = Matcher(query, analyzer)
    fits: dict[str, set[str]] = {}  # each concept of the question a document's year or kind covers: those documents
    for term, documents in documents_by_term(snapshot, analyzer).items():
        for concept in matcher.concepts_of(term):
            fits.setdefault(concept, set()).update(documents)
    named = sorted({doc_id for docs in fits.values() if len(docs) <= most for doc_id in docs})
    extra = [hit for doc_id in named for hit in [h for h in retrieved[top_k:] if h.chunk.doc_id == doc_id][:per_document]]
    return sorted(extra, key=lambda hit: hit.rank)


def named_chunks(query: Query, retrieved: Sequence[ScoredChunk], gathered: int, snapshot: Snapshot,
                 per_name: int) -> list[ScoredChunk]:
    """For each name the question mentions (a place, an organisation, a person: ``Query.names``) that none of
    the first ``gathered`` chunks holds, the first ``per_name`` chunks past them that do, in retrieval order:
    "Mihin teemoihin Lapin aluepilotti keskittyy?" reads the slide on Lapland's pilot, ranked seventh, and not
    only the slide of themes that fills the top without naming Lapland."""
    if per_name <= 0 or not query.names:
        return []
    keyword, row_of = snapshot.keyword, snapshot.row_of

    def says(hit: ScoredChunk, name: str) -> bool:
        row = row_of.get(hit.chunk.id)
        return row is not None and bool(keyword.matched_terms(row, [name]))

    extra: list[ScoredChunk] = []
    for name in sorted(query.names):
        if any(says(hit, name) for hit in [*retrieved[:gathered], *extra]):
            continue
        extra += [hit for hit in retrieved[gathered:] if hit not in extra and says(hit, name)][:per_name]
    return sorted(extra, key=lambda hit: hit.rank)


def part_sources(part_rankings: Sequence[Sequence[ScoredChunk]], retrieved: Sequence[ScoredChunk], gathered: int,
                 per_part: int) -> list[ScoredChunk]:
    """The first ``per_part`` chunks of each part's own ranking (``part_rankings``, one per part of a question
    of several parts, ``Intent.parts``) that the whole question retrieved (``retrieved``) but does not read (past
    its first ``gathered``), as the whole question scored them, in the parts' order: "..., ja ketkä sen ovat
    todenneet?" reads the passage that names them although the first part's passages fill the top."""
    if per_part <= 0:
        return []
    unread = {hit.chunk.id: hit for hit in retrieved[gathered:]}
    extra: list[ScoredChunk] = []
    for ranking in part_rankings:
        found = 0
        for hit in ranking:
            if found == per_part:
                break
            whole = unread.pop(hit.chunk.id, None)
            if whole is not None:
                extra.append(whole)
                found += 1
    return extra


def gather(
    query: Query, intent: Intent, retrieved: Sequence[ScoredChunk], snapshot: Snapshot, analyzer: Analyzer,
    matcher: Matcher | None = None,
) -> Evidence:
    """The candidates of ``retrieved`` with their signals (see the module docstring)."""
    matcher = matcher or Matcher(query, analyzer)
    weights = concept_weights(query, snapshot.keyword)
    stored = snapshot.sentences([hit.chunk.id for hit in retrieved])
    rows = _rows(query, retrieved, stored, snapshot, analyzer, matcher, weights)
    if not rows:
        return Evidence((), weights)
    similarity = np.array([row.similarity for row in rows])
    best_context = max(row.context for row in rows)
    best_lexical = max(row.lexical for row in rows)
    best_own = max(row.own for row in rows)
    bm25 = _bm25(list(query.terms), [row.item.terms for row in rows])
    prefix_bm25 = _bm25(_prefixes(query.text), [_prefixes(row.item.sentence.text) for row in rows])
    best_chunk = max((hit.score for hit in retrieved), default=1.0) or 1.0
    asked = intent.kinds & set(KINDS)
    candidates = []
    for i, row in enumerate(rows):
        text = row.item.sentence.text
        words = len(text.split())
        hit = retrieved[row.rank]
        scores = dict(hit.scores)
        features = (
            row.similarity,
            float(similarity.max() - row.similarity),
            row.context,
            best_context - row.context,
            row.lexical,
            best_lexical - row.lexical,
            row.own,
            best_own - row.own,
            row.heading,
            row.neighbour,
            row.rarest,
            float(bm25[i]),
            float(prefix_bm25[i]),
            hit.score / best_chunk,
            float(row.rank + 1),
            scores.get("dense", 0.0),
            scores.get("coverage", 0.0),
            row.position,
            float(row.item.sentence.is_list_item or row.place.run >= 0),
            float(row.item.sentence.is_heading),
            float(row.place.introduces or text.rstrip().endswith(":")),
            math.log1p(words),
            math.log1p(_joins(text)),
            float(any(holds(kind, text, analyzer, intent.given) for kind in asked)) if asked else 0.0,
            float(bool(asked)),
            row.names_missing,
            float(len(weights)),
            float(intent.asks("list")),
        )
        candidates.append(Candidate(row.rank, row.item, row.place, row.terms, features,
                                    row.concepts, row.source,
                                    text in snapshot.template_lines, hit.chunk.doc_id))
    return Evidence(tuple(candidates), weights)


@dataclass(frozen=True)
class _Row:
    rank: int
    item: StoredSentence
    place: Place
    terms: frozenset[str]
    similarity: float
    context: float
    lexical: float
    own: float
    heading: float
    neighbour: float
    rarest: float
    position: float
    names_missing: float
    source: frozenset[str]
    concepts: frozenset[str]  # the question's concepts the item's own terms cover


def _rows(
    query: Query, retrieved: Sequence[ScoredChunk], stored: dict[str, list[StoredSentence]], snapshot: Snapshot,
    analyzer: Analyzer, matcher: Matcher, weights: dict[str, float],
) -> list[_Row]:
    rows: list[_Row] = []
    for rank, hit in enumerate(retrieved):
        items = stored.get(hit.chunk.id, [])
        places = layout(hit.chunk, items)
        document = document_terms(snapshot.documents.get(hit.chunk.doc_id), analyzer)
        title = _lemmas(analyzer, hit.chunk.title) | _lemmas(analyzer, hit.chunk.heading) | document
        source = matcher.covered(document)
        title_covered = matcher.covered(title)
        # What a section's heading (with the title) covers, worked out once per heading: an item's coverage
        # is its own terms' and its heading's together.
        headings: dict[str, tuple[frozenset[str], frozenset[str], float]] = {}
        concepts = [matcher.covered(item.terms) for item in items]
        own = [weighted_share(covered, weights) for covered in concepts]
        rarest_weight = max(weights.values(), default=0.0) or 1.0
        for i, (item, place) in enumerate(zip(items, places, strict=True)):
            if place.heading not in headings:
                lemmas = _lemmas(analyzer, place.heading)
                heading_covered = matcher.covered(lemmas) | title_covered
                headings[place.heading] = (lemmas, heading_covered, weighted_share(heading_covered, weights))
            heading_lemmas, heading_covered, heading_share = headings[place.heading]
            terms = frozenset({*item.terms, *heading_lemmas, *title})
            covered = concepts[i] | heading_covered
            covered_names = covered | terms
            neighbour = max(own[max(0, i - 1) : i] + own[i + 1 : i + 2], default=0.0)
            similarity = float(item.vector @ query.vector) if item.vector is not None else 0.0
            rows.append(_Row(
                rank=rank,
                item=item,
                place=place,
                terms=terms,
                similarity=similarity,
                context=float(item.context @ query.vector) if item.context is not None else similarity,
                lexical=weighted_share(covered, weights),
                own=own[i],
                heading=heading_share,
                neighbour=neighbour,
                rarest=max((weights[c] for c in covered if c in weights), default=0.0) / rarest_weight,
                position=i / max(1, len(items) - 1),
                names_missing=(sum(1 for name in query.names if name not in covered_names) / len(query.names)
                               if query.names else 0.0),
                source=source,
                concepts=concepts[i],
            ))
    return rows


def documents_by_term(snapshot: Snapshot, analyzer: Analyzer) -> Mapping[str, frozenset[str]]:
    """Each term of ``document_terms`` (a year, a kind's lemma or compound part) with the documents it may call
    by, built once per snapshot and analyzer: a question then reads a few dozen terms, not every document."""
    cached = _BY_TERM.get(snapshot)
    if cached is not None and cached[0] is analyzer:
        return cached[1]
    index: dict[str, set[str]] = {}
    for doc_id, info in snapshot.documents.items():
        for term in document_terms(info, analyzer):
            index.setdefault(term, set()).add(doc_id)
    by_term = {term: frozenset(documents) for term, documents in index.items()}
    _BY_TERM[snapshot] = (analyzer, by_term)  # a snapshot never changes; a commit makes a new one
    return by_term


def document_terms(info: DocumentInfo | None, analyzer: Analyzer) -> set[str]:
    """What a question may call a document by besides its title: its year and its kind with the kind's
    compound parts ("vuoden 2023 uutisessa", "diaesityksen mukaan", "esityksen mukaan")."""
    if info is None:
        return set()
    terms = {str(info.year)} if info.year else set()
    for word in word_tokens(info.kind or ""):
        terms |= analyzer.content_lemmas(word)
        terms.update(analyzer.analyze_word(word).parts)
    return terms


def _lemmas(analyzer: Analyzer, text: str) -> frozenset[str]:
    """``analyzer.content_lemmas`` of a title or heading, kept between questions (per analyzer, while it lives;
    an analyzer that cannot be referenced weakly analyses every time)."""
    try:
        cache = _LEMMAS.get(analyzer)
        if cache is None:
            cache = _LEMMAS.setdefault(analyzer, {})
    except TypeError:
        return frozenset(analyzer.content_lemmas(text))
    found = cache.get(text)
    if found is None:
        if len(cache) >= TEXT_CACHE:
            cache.clear()
        found = cache[text] = frozenset(analyzer.content_lemmas(text))
    return found


@functools.lru_cache(maxsize=TEXT_CACHE)
def _prefixes(text: str) -> tuple[str, ...]:
    """The text's words cut to ``PREFIX`` letters, stopwords left out: matching without any analysis."""
    return tuple(word[:PREFIX] for word in word_tokens(text) if word not in stopwords.ALL)


@functools.lru_cache(maxsize=TEXT_CACHE)
def _joins(text: str) -> int:
    """How many commas and coordinating words ("ja", "sekä", ...) ``text`` holds: the parts it lists."""
    coordinators = word_set("coordinators")
    return text.count(",") + sum(1 for token in word_tokens(text) if token in coordinators)


def _bm25(terms: Sequence[str], item_terms: Sequence[Sequence[str]]) -> np.ndarray:
    """BM25 of each item for ``terms`` among these items, relative to the best (0..1)."""
    index = KeywordIndex.build([list(words) for words in item_terms])
    scores = np.zeros(len(item_terms))
    for hit in index.search(list(terms), len(item_terms)) if terms else []:
        scores[hit.row] = hit.score
    best = scores.max() if len(scores) else 0.0
    return scores / best if best > 0 else scores
