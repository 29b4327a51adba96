"""Retrieval and answer metrics: pure functions over plain values, no I/O.

Retrieval metrics take a ranked list of booleans (is the item at this rank relevant?). The caller
orders the list (``order_by_score`` breaks score ties by the caller's order), removes repeated
chunks with ``dedupe`` and leaves out questions that have no relevant item at all.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import PurePath

_CITATION_MARKER = re.compile(r"\[\d+(?:\s*[,-]\s*\d+)*\]")
# A thousands separator between digit groups: "127 000", "127\u00a0000", "127,000" -> "127000".
_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f\u2009,](?=\d{3}(?!\d))")
# Case endings after a colon on abbreviations: "STM:n", "KuntaTV:n", "EU:ssa".
_COLON_ENDING = re.compile(r"(?<=[^\W\d_]):[^\W\d_]{1,4}(?![^\W_])")
_WORD = re.compile(r"[^\W_]+")
_DOUBLED = re.compile(r"(.)\1+")
_MIN_STEM = 4
_MAX_ENDING = 3
# Texts, words and key facts whose reading is kept between calls: training scores the same answers' key facts
# under every set of selection numbers it tries, and most answers come out the same under many of them.
_CACHED = 1 << 16
_CACHED_TEXTS = 1 << 14


def normalize_words(text: str) -> list[str]:
    """Split text into case-folded words, ignoring punctuation and Markdown markup.

    Headings (``#``), list bullets (``-``, ``*``, ``•``), emphasis (``*``, ``_``), quotes (``>``)
    and citation markers (``[1]``, ``[2, 3]``) are dropped; hyphens and slashes split words
    ("Etelä-Karjala" -> ``etelä``, ``karjala``); a colon case ending on an abbreviation is dropped
    ("STM:n" -> ``stm``); digit groups split by a thousands separator are joined ("127 000" -> ``127000``).
    """
    text = unicodedata.normalize("NFKC", text)
    text = _CITATION_MARKER.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    text = _COLON_ENDING.sub("", text)
    return _WORD.findall(text.casefold())


@lru_cache(maxsize=_CACHED_TEXTS)
def _words(text: str) -> tuple[str, ...]:
    """``normalize_words`` of a text, kept."""
    return tuple(normalize_words(text))


@lru_cache(maxsize=_CACHED_TEXTS)
def _word_counts(text: str) -> Counter[str]:
    """How often each of a text's words occurs in it, kept (read only: a missing word counts 0, stored nowhere)."""
    return Counter(_words(text))


def is_relevant(
    chunk_file: str,
    chunk_text: str,
    sources: Sequence[str],
    evidence: Sequence[str],
    threshold: float = 0.8,
) -> bool:
    """Tell whether a retrieved chunk supports the answer to a question.

    A chunk is relevant when its file (compared by file name) is one of ``sources`` and it covers at
    least ``threshold`` of the words of at least one evidence passage. Coverage is multiset-aware:
    each evidence word occurrence counts only as often as the word occurs in the chunk, so a
    passage repeating a word is not covered by a chunk holding it once.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if PurePath(chunk_file).name not in {PurePath(source).name for source in sources}:
        return False
    chunk_words = _word_counts(chunk_text)
    for passage in evidence:
        passage_words = _word_counts(passage)
        total = sum(passage_words.values())
        if total == 0:
            continue
        covered = sum(min(count, chunk_words[word]) for word, count in passage_words.items())
        if covered / total >= threshold:
            return True
    return False


def order_by_score(scores: Sequence[float], relevance: Sequence[bool]) -> list[bool]:
    """Return ``relevance`` sorted by descending score; equal scores keep the caller's order."""
    _check_same_length(scores, relevance, "scores")
    order = sorted(range(len(scores)), key=lambda index: -scores[index])
    return [bool(relevance[index]) for index in order]


def dedupe(ids: Sequence[str], relevance: Sequence[bool]) -> list[bool]:
    """Count a repeated item as relevant only at its first occurrence.

    Returns a list as long as the input: later occurrences of an id become ``False`` but keep
    their rank, so a retriever that returns the same passage twice is not rewarded for it.
    """
    _check_same_length(ids, relevance, "ids")
    seen: set[str] = set()
    result: list[bool] = []
    for item_id, relevant in zip(ids, relevance, strict=True):
        result.append(bool(relevant) and item_id not in seen)
        seen.add(item_id)
    return result


def recall_at_k(relevance: Sequence[bool], k: int) -> float:
    """Return 1.0 when any of the top ``k`` items is relevant, else 0.0 (k may exceed the list)."""
    _check_k(k)
    return 1.0 if any(relevance[:k]) else 0.0


def mrr_at_k(relevance: Sequence[bool], k: int) -> float:
    """Return the reciprocal rank (1-based) of the first relevant item in the top ``k``, else 0.0."""
    _check_k(k)
    for rank, relevant in enumerate(relevance[:k], start=1):
        if relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevance: Sequence[bool], k: int, n_relevant: int | None = None) -> float:
    """Return binary-gain nDCG of the top ``k`` items.

    DCG sums ``1 / log2(rank + 1)`` over relevant ranks. The ideal DCG places
    ``min(n_relevant, k)`` relevant items first; ``n_relevant`` is the number of relevant items
    available (default: those in ``relevance``). Returns 0.0 when nothing relevant exists.

    Raises:
        ValueError: ``k`` < 1, or ``n_relevant`` smaller than the relevant items in the list.
    """
    _check_k(k)
    in_list = sum(1 for relevant in relevance if relevant)
    available = in_list if n_relevant is None else n_relevant
    if available < in_list:
        raise ValueError(f"n_relevant={n_relevant} is below the {in_list} relevant items in the list")
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(available, k) + 1))
    if ideal == 0.0:
        return 0.0
    gained = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(relevance[:k], start=1) if hit)
    return gained / ideal


@lru_cache(maxsize=_CACHED)
def _stem_key(word: str) -> str:
    """Fold doubled letters, so consonant gradation (Lappi/Lapin, Kuntaliitto/-liitolla) aligns."""
    return _DOUBLED.sub(r"\1", word)


@lru_cache(maxsize=_CACHED)
def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _word_matches(keyword_word: str, answer_word: str) -> bool:
    """Compare one keyword word with one answer word, allowing Finnish inflection.

    Words holding a digit and words shorter than four letters must be identical. Other words
    match when, after folding doubled letters, the answer word starts with the keyword word minus
    at most its last three letters, and the shared beginning is at least four letters long.
    """
    if keyword_word == answer_word:
        return True
    if _has_digit(keyword_word) or _has_digit(answer_word) or len(keyword_word) < _MIN_STEM:
        return False
    key, other = _stem_key(keyword_word), _stem_key(answer_word)
    shared = 0
    for left, right in zip(key, other, strict=False):
        if left != right:
            break
        shared += 1
    return shared >= max(_MIN_STEM, len(key) - _MAX_ENDING)


@lru_cache(maxsize=_CACHED)
def keyword_present(keyword: str, answer: str) -> bool:
    """Tell whether ``keyword`` appears in ``answer`` as a phrase: its words in order and next to each other,
    each in some inflected form ("Kuntien takauskeskus" ~ "Kuntien takauskeskuksen"; not "takauskeskus ...
    kuntien", nor its words scattered over the answer).

    Numbers match exactly after joining thousands separators ("127 000" == "127000", "9" != "19");
    short words (under four letters, e.g. "STM") match exactly; longer words by the stem rule of
    ``_word_matches`` ("Kuntaliitto" ~ "Kuntaliitolla", "hyvinvointialue" ~ "hyvinvointialueiden").
    The rule is a prefix heuristic: a compound starting with the keyword also matches ("kunta" ~
    "kuntaliitto"), one ending with it does not ("asiantuntija" !~ "erityisasiantuntija"), so keywords
    should be the words as the source writes them. Punctuation, list bullets and citation markers between
    the words do not count ("Strateginen yhteistyösopimus: ei"). An empty keyword raises ValueError.
    """
    keyword_words = _words(keyword)
    if not keyword_words:
        raise ValueError(f"keyword has no words: {keyword!r}")
    answer_words = _words(answer)
    size = len(keyword_words)
    return any(
        all(_word_matches(word, answer_words[start + i]) for i, word in enumerate(keyword_words))
        for start in range(len(answer_words) - size + 1)
    )


def keyword_recall(keywords: Sequence[str], answer: str) -> float:
    """Return the share of ``keywords`` present in ``answer``.

    Raises:
        ValueError: no keywords; questions without keywords are left out by the caller.
    """
    if not keywords:
        raise ValueError("keyword_recall needs at least one keyword")
    return sum(1 for keyword in keywords if keyword_present(keyword, answer)) / len(keywords)


def percentile(values: Sequence[float], p: float) -> float:
    """Return the ``p``-th percentile (0..100) by linear interpolation between closest ranks.

    The value sits at fractional position ``(n - 1) * p / 100`` of the sorted values, as
    numpy's default ``linear`` method: percentile([1, 2, 3, 4], 50) == 2.5.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"p must be in 0..100, got {p}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def citation_precision(cited_relevant: Sequence[bool]) -> float | None:
    """Return the share of an answer's citations that point to relevant passages; None without citations."""
    if not cited_relevant:
        return None
    return sum(1 for relevant in cited_relevant if relevant) / len(cited_relevant)


def _check_k(k: int) -> None:
    """Reject a cutoff below one."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _check_same_length(first: Sequence[object], relevance: Sequence[bool], name: str) -> None:
    """Reject parallel sequences of different lengths."""
    if len(first) != len(relevance):
        raise ValueError(f"{name} and relevance differ in length: {len(first)} != {len(relevance)}")
