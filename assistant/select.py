"""The selection stage: which scored items an answer quotes, each with the reason it was added.

Named steps, in order:

1. ``lead``: the item most likely to answer (a line that only introduces a list, or a line outside a list
   that asks a question itself, leads only when nothing else scores); a passage's signature (a contact
   line and the short line naming whom before it) is quoted by no step unless a person or a contact is
   asked, and a line of the site's template ("Löydä lisää sisältöä samoista teemoista":
   ``Snapshot.template_lines``) by none at all;
2. ``list``: the list the lead belongs to or introduces, in the source's order: when the lead is one of
   its items, its lead-in, or the line right before it and the question asks for a list or for no single
   fact (a count, a date, ...: ``Intent.fact``); a line introduces the lists of the sub-sections that
   follow it directly too (a slide's groups under their own headings);
3. ``support``: other items scoring at least ``support_ratio`` of the lead (``other_ratio`` for an
   item of another passage: each further source is a citation that may be off the point), ``support_floor``
   and ``word_rate`` per word of the item (a long sentence must be likelier to answer than a short one to be
   worth its words), best first; a broad question ("miten muut alueet ...", ``Intent.broad``) also takes the best item of
   each further source scoring ``broad_ratio`` of the lead, so that several sources speak, and then the best item of
   each document no quoted item is from scoring ``document_ratio`` of the lead, for at most ``max_items`` further
   documents (``another document``: a further passage of the lead's document is another source but not another
   document, and a question the breadth model reads as needing several documents is answered from them);
4. ``whole lists``: for a question asking for a list (or a broad one), a list two of whose items are quoted
   is quoted whole;
5. ``parts``: for a question of several parts ("Milloin uudistus tulee voimaan ja miten se liittyy
   yhdyspintoihin?": ``Intent.parts``), each part's own best item with its list when it scores
   ``part_floor`` against that part alone (an item an earlier step quoted brings its list all the same);
6. ``covers``: for a concept of the question that no quoted item shows yet, the best item scoring at
   least ``cover_floor`` whose own words show it ("Ketkä ovat mukana ja rahoittavat?" gets both), or
   scoring at least ``source_floor`` in a document the concept names by its year or kind ("vuosien 2023
   ja 2024 uutisissa", "uutisen ja diaesityksen mukaan": each named source speaks);
7. ``sections``: for a quoted heading, the first ``section_sentences`` sentences of the section it opens
   (a heading names what its section says, "Käytännön työ voi sujua, vaikka strategiatason yhteistyö on
   alkuvaiheessa", and says little itself);
8. ``continues``: the sentence a quoted one goes on from, or that goes on from it or points back to it
   ("Lisäksi ...", "Tästä esimerkkinä ...": ``words/continuations.txt``); and for a quoted item of a numbered
   list, the rest of its entry: the unnumbered list lines between it and the next number ("5. Työllisyyden
   edistäminen" and "sis. maahanmuutto ja kotoutuminen" under it), whichever of them was quoted;
9. ``the sentence after``: for a question asking how or why (``Intent.kinds``: "miten", "miksi", "hur",
   "why") or a broad one, the ``next_sentences`` prose sentences that follow each quoted prose sentence in its
   section, while the answer has fewer than ``max_items`` items: an explanation runs on over sentences that
   the ranker, reading each alone, scores low, and they cite no further source.

The numbers are ``Settings`` fields (``answer_*``), chosen by ``make train`` on held-out questions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

from assistant.evidence import Candidate, Evidence
from assistant.intent import Intent
from kysy.settings import Settings

# The number that opens an entry of a numbered list ("5. Työllisyyden edistäminen", "2) ...").
_NUMBERED = re.compile(r"\d{1,2}[.)]\s")
# Two items whose vectors are this close say the same thing; the second is not quoted.
NEAR_DUPLICATE = 0.95
# The kinds of question an explanation answers (``words/question_kinds.txt``): how and why.
EXPLAINED = frozenset({"how", "reason"})


@dataclass(frozen=True)
class Chosen:
    """A quoted item, its score, and the step that added it."""

    candidate: Candidate
    score: float
    reason: str


@dataclass(frozen=True)
class SelectionSettings:
    """The selection's numbers (``Settings.answer_*``)."""

    support_ratio: float
    support_floor: float
    broad_ratio: float
    max_items: int
    list_items: int
    cover_floor: float = 1.0
    other_ratio: float = 1.0
    source_floor: float = 1.01
    part_floor: float = 1.01
    section_sentences: int = 0
    next_sentences: int = 0
    document_ratio: float = 1.01
    word_rate: float = 0.0

    @classmethod
    def of(cls, settings: Settings) -> SelectionSettings:
        """The selection numbers of ``settings``."""
        return cls(settings.answer_support_ratio, settings.answer_support_floor, settings.answer_broad_ratio,
                   settings.answer_max_items, settings.answer_list_items, settings.answer_cover_floor,
                   settings.answer_other_ratio, settings.answer_source_floor, settings.answer_part_floor,
                   settings.answer_section_sentences, settings.answer_next_sentences, settings.answer_document_ratio,
                   settings.answer_word_rate)


def select(evidence: Evidence, scores: np.ndarray, intent: Intent, numbers: SelectionSettings,
           parts: Sequence[tuple[Intent, np.ndarray]] = ()) -> list[Chosen]:
    """The quoted items of an answer, in the order they were chosen (see the module docstring).

    ``parts`` holds, for each part of a question of several parts (``Intent.parts``), what it asks and
    the candidates' scores against it, in the order of ``evidence.candidates``."""
    candidates = evidence.candidates
    if not candidates:
        return []
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    template = evidence.template
    # a passage's signature is quoted only when a person or a contact is asked
    signed = frozenset() if intent.kinds & {"contact", "person", "holder"} else evidence.signatures
    hidden = signed | template
    lead = next((i for i in order if not candidates[i].introduces and i not in hidden),
                next((i for i in order if i not in template), None))
    if lead is None:
        return []
    chosen = [Chosen(candidates[lead], float(scores[lead]), "lead")]
    # a signature is never quoted unless a person or a contact is asked; a line of the site's template never
    taken = {lead} | hidden
    chosen += _members(lead, evidence, scores, intent, taken, numbers.list_items)
    limit = max(numbers.max_items, len(chosen))
    top = float(scores[lead])
    sources = {candidates[lead].rank}
    support = max(numbers.support_floor, numbers.support_ratio * top)
    other = max(numbers.support_floor, numbers.other_ratio * top)
    lowest = min(support, other, numbers.broad_ratio * top) if intent.broad else min(support, other)
    for i in order:  # best first, so nothing after a score below every bar can join
        candidate, score = candidates[i], float(scores[i])
        if len(chosen) >= limit or score < lowest:
            break
        if i in taken or candidate.introduces:
            continue
        same = candidate.rank == candidates[lead].rank
        if score >= (support if same else other) and score >= numbers.word_rate * len(candidate.text.split()):
            reason = "support"
        elif intent.broad and candidate.rank not in sources and score >= numbers.broad_ratio * top:
            reason = "another source"
        else:
            continue
        if _duplicate(candidate, chosen):
            continue
        chosen.append(Chosen(candidate, score, reason))
        taken.add(i)
        sources.add(candidate.rank)
    if intent.broad:
        chosen += _documents(order, candidates, scores, taken, chosen, numbers.document_ratio * top, numbers.max_items)
    chosen += _whole_lists(chosen, evidence, scores, intent, taken, numbers.list_items)
    chosen += _parts(intent.parts, parts, evidence, taken, chosen, numbers)
    chosen += _covering(order, candidates, scores, taken, chosen, evidence.weights, numbers, limit)
    place = evidence.by_place
    chosen += _sections(chosen, candidates, scores, taken, numbers.section_sentences, place)
    chosen += _continuations(chosen, candidates, scores, taken, place)
    chosen += _numbered_entries(chosen, candidates, scores, taken, place)
    if intent.broad or intent.kinds & EXPLAINED:
        chosen += _following(chosen, candidates, scores, taken, place, numbers.next_sentences, limit)
    return chosen


def _documents(order: Sequence[int], candidates: Sequence[Candidate], scores: np.ndarray, taken: set[int],
               chosen: Sequence[Chosen], least: float, most: int) -> list[Chosen]:
    """For a broad question, the best item of each document no quoted item is from, scoring at least ``least``,
    for at most ``most`` further documents (a large collection may hold many a document scoring that much)."""
    quoted = {entry.candidate.document for entry in chosen}
    added: list[Chosen] = []
    for i in order:
        candidate, score = candidates[i], float(scores[i])
        if score < least or len(added) >= most:
            break
        if i in taken or candidate.document in quoted or candidate.introduces:  # a template line is taken
            continue
        if _duplicate(candidate, [*chosen, *added]):
            continue
        added.append(Chosen(candidate, score, "another document"))
        taken.add(i)
        quoted.add(candidate.document)
    return added


def _sections(chosen: Sequence[Chosen], candidates: Sequence[Candidate], scores: np.ndarray, taken: set[int],
              most: int, place: Mapping[tuple[int, int], int]) -> list[Chosen]:
    """For a quoted heading outside a list, the first ``most`` prose sentences of the section it opens, up to
    the next heading or list (``place``: ``Evidence.by_place``)."""
    added: list[Chosen] = []
    for entry in chosen:
        item = entry.candidate
        if not item.stored.sentence.is_heading or item.place.run >= 0:
            continue
        for i in islice(_prose_after(item, candidates, place), most):
            if i not in taken and not candidates[i].introduces:
                added.append(Chosen(candidates[i], float(scores[i]), "the section of a quoted heading"))
                taken.add(i)
    return added


def _following(chosen: Sequence[Chosen], candidates: Sequence[Candidate], scores: np.ndarray, taken: set[int],
               place: Mapping[tuple[int, int], int], most: int, limit: int) -> list[Chosen]:
    """The ``most`` prose sentences after each quoted prose sentence, in its section and not quoted yet, in the
    order the sentences were quoted, while the answer has fewer than ``limit`` items (``place``:
    ``Evidence.by_place``)."""
    added: list[Chosen] = []
    for entry in chosen:
        item = entry.candidate
        if item.place.run >= 0 or item.stored.sentence.is_heading:
            continue
        for i in islice(_prose_after(item, candidates, place), most):
            other = candidates[i]
            if (len(chosen) + len(added) >= limit or other.place.section != item.place.section
                    or other.introduces or other.template):
                break
            if i in taken or _duplicate(other, [*chosen, *added]):
                continue
            added.append(Chosen(other, float(scores[i]), "the sentence after a quoted one"))
            taken.add(i)
    return added


def _prose_after(item: Candidate, candidates: Sequence[Candidate],
                 place: Mapping[tuple[int, int], int]) -> Iterator[int]:
    """The candidates right after ``item`` in its chunk, in order, up to the next heading, list item or gap."""
    ord_ = item.stored.sentence.ord + 1
    while (i := place.get((item.rank, ord_))) is not None:
        if candidates[i].stored.sentence.is_heading or candidates[i].place.run >= 0:
            return
        yield i
        ord_ += 1


def _whole_lists(chosen: Sequence[Chosen], evidence: Evidence, scores: np.ndarray, intent: Intent,
                 taken: set[int], most: int) -> list[Chosen]:
    """For a question asking for a list (or a broad one), a list two of whose items are quoted is quoted whole,
    at most ``most`` of it: the slide's other priorities, not the four that happened to score."""
    if not (intent.asks("list") or intent.broad):
        return []
    runs = Counter((entry.candidate.rank, entry.candidate.place.run) for entry in chosen
                   if entry.candidate.place.run >= 0)
    added: list[Chosen] = []
    for (rank, run), quoted in runs.items():
        if quoted < 2:
            continue
        for i in _run(rank, run, evidence)[:most]:
            candidate = evidence.candidates[i]
            if i not in taken and not _duplicate(candidate, [*chosen, *added]):
                added.append(Chosen(candidate, float(scores[i]), "the rest of a quoted list"))
                taken.add(i)
    return added


def _parts(texts: Sequence[str], parts: Sequence[tuple[Intent, np.ndarray]], evidence: Evidence,
           taken: set[int], chosen: Sequence[Chosen], numbers: SelectionSettings) -> list[Chosen]:
    """For each part of the question, its own best item with its list (as the lead's, read with what the
    part asks), when that item scores ``part_floor`` against the part; an item an earlier step quoted
    already (as support, say) is not quoted twice, but its list still comes with it."""
    candidates = evidence.candidates
    added: list[Chosen] = []
    for text, (part, scores) in zip(texts, parts, strict=False):
        best = next((int(i) for i in np.argsort(-scores, kind="stable") if not candidates[int(i)].introduces), None)
        if best is None or float(scores[best]) < numbers.part_floor:
            continue
        quoted = any(entry.candidate is candidates[best] for entry in [*chosen, *added])
        if not quoted:
            if best in taken or _duplicate(candidates[best], [*chosen, *added]):
                continue
            added.append(Chosen(candidates[best], float(scores[best]), f"answers the part \"{text}\""))
            taken.add(best)
        added += _members(best, evidence, scores, part, taken, numbers.list_items)
    return added


def _members(item: int, evidence: Evidence, scores: np.ndarray, intent: Intent, taken: set[int],
             most: int) -> list[Chosen]:
    """The members of ``item``'s list (``_list_of``) not quoted yet, at most ``most`` of the list."""
    members = [i for i in _list_of(item, evidence, intent)[:most] if i not in taken]
    taken.update(members)
    return [Chosen(evidence.candidates[i], float(scores[i]), "list") for i in members]


def _covering(order: Sequence[int], candidates: Sequence[Candidate], scores: np.ndarray, taken: set[int],
              chosen: Sequence[Chosen], weights: dict[str, float], numbers: SelectionSettings,
              limit: int) -> list[Chosen]:
    """The best item for each concept of the question that the quoted items do not show yet: one whose
    words show it (scoring ``cover_floor``), or one of a document the concept names (``source_floor``)."""
    shown = set().union(*(entry.candidate.covers | entry.candidate.source for entry in chosen))
    lowest = min(numbers.cover_floor, numbers.source_floor)
    added: list[Chosen] = []
    for concept in sorted(set(weights) - shown, key=lambda c: (-weights[c], c)):
        if concept in shown or len(chosen) + len(added) >= limit:
            continue
        for i in order:
            candidate, score = candidates[i], float(scores[i])
            if score < lowest:
                break
            if concept in candidate.covers and score >= numbers.cover_floor:
                reason = f"covers {concept}"
            elif concept in candidate.source and score >= numbers.source_floor:
                reason = f"from the source {concept} names"
            else:
                continue
            if i not in taken and not candidate.introduces and not _duplicate(candidate, [*chosen, *added]):
                added.append(Chosen(candidate, score, reason))
                taken.add(i)
                shown |= candidate.covers | candidate.source
                break
    return added


def _list_of(lead: int, evidence: Evidence, intent: Intent) -> list[int]:
    """The members of the list the lead belongs to or introduces (in source order), when it matters."""
    item = evidence.candidates[lead]
    if item.place.run >= 0:
        siblings = [i for i in _run(item.rank, item.place.run, evidence) if i != lead]
        return siblings if intent.asks("list") or intent.broad else siblings[:2]  # else its nearest siblings
    if intent.asks("list") or item.introduces or not intent.fact:
        return _nested(item, evidence.by_chunk.get(item.rank, ()), evidence.candidates)
    return []


def _run(rank: int, run: int, evidence: Evidence) -> list[int]:
    """The items of one list (``run``) of the chunk ranked ``rank``, in source order."""
    return [i for i in evidence.by_chunk.get(rank, ()) if evidence.candidates[i].place.run == run]


def _nested(lead: Candidate, same_chunk: Sequence[int], candidates: Sequence[Candidate]) -> list[int]:
    """The list a line introduces: the run right after it, and the runs of the sub-sections that follow it
    without a line between ("Vuorovaikutus eri tasoilla" over "Poliittiset päättäjät", "Viranhaltijajohto",
    ... on one slide, each with its own items)."""
    by_ord = {candidates[i].stored.sentence.ord: i for i in same_chunk}
    members: list[int] = []
    ord_ = lead.stored.sentence.ord + 1
    while (i := by_ord.get(ord_)) is not None and candidates[i].place.run >= 0:
        if members and candidates[i].place.run != candidates[members[-1]].place.run \
                and candidates[i].place.section == candidates[members[-1]].place.section:
            break  # another list of the same section is not part of this one
        members.append(i)
        ord_ += 1
    return members


def _continuations(chosen: Sequence[Chosen], candidates: Sequence[Candidate], scores: np.ndarray,
                   taken: set[int], place: Mapping[tuple[int, int], int]) -> list[Chosen]:
    """Sentences that go on from a quoted prose sentence, and the sentence a quoted one goes on from
    (``place``: ``Evidence.by_place``)."""
    added: list[Chosen] = []
    for entry in chosen:
        item = entry.candidate
        if item.place.run >= 0:
            continue
        ord_ = item.stored.sentence.ord
        for neighbour, goes_on in ((ord_ + 1, None), (ord_ - 1, item)):
            i = place.get((item.rank, neighbour))
            if i is None or i in taken:
                continue
            continuing = goes_on if goes_on is not None else candidates[i]
            other = candidates[i]
            if other.place.run < 0 and not other.stored.sentence.is_heading and continuing.goes_on:
                added.append(Chosen(other, float(scores[i]), "continues"))
                taken.add(i)
    return added


def _numbered_entries(chosen: Sequence[Chosen], candidates: Sequence[Candidate], scores: np.ndarray,
                      taken: set[int], place: Mapping[tuple[int, int], int]) -> list[Chosen]:
    """The rest of each quoted entry of a numbered list: an entry is a numbered item ("5. Työllisyyden edistäminen")
    and the unnumbered items of its list that follow it up to the next number ("sis. maahanmuutto ja
    kotoutuminen"), and quoting one of them quotes it whole (``place``: ``Evidence.by_place``)."""
    added: list[Chosen] = []
    for entry in chosen:
        item = entry.candidate
        if item.place.run < 0 or not item.stored.sentence.is_list_item:
            continue
        for i in _entry(item, candidates, place):
            if i not in taken:
                added.append(Chosen(candidates[i], float(scores[i]), "the rest of a numbered entry"))
                taken.add(i)
    return added


def _entry(item: Candidate, candidates: Sequence[Candidate], place: Mapping[tuple[int, int], int]) -> list[int]:
    """The candidates of the numbered entry ``item`` is part of (see ``_numbered_entries``), in source order, or none
    when it is part of none: not a numbered list's item, nor an unnumbered one after a number in its list."""
    def member(ord_: int) -> int | None:
        i = place.get((item.rank, ord_))
        same = i is not None and candidates[i].place.run == item.place.run and candidates[i].stored.sentence.is_list_item
        return i if same else None

    start = item.stored.sentence.ord
    while not _NUMBERED.match(candidates[place[(item.rank, start)]].text):  # back to the entry's number
        if member(start - 1) is None:
            return []
        start -= 1
    members = [place[(item.rank, start)]]
    while (i := member(start + len(members))) is not None and not _NUMBERED.match(candidates[i].text):
        members.append(i)
    return members if len(members) > 1 else []


def _duplicate(candidate: Candidate, chosen: Sequence[Chosen]) -> bool:
    text = candidate.folded
    vector = candidate.stored.vector
    for entry in chosen:
        other = entry.candidate
        if other.folded == text:
            return True
        if vector is not None and other.stored.vector is not None and float(vector @ other.stored.vector) > NEAR_DUPLICATE:
            return True
    return False
