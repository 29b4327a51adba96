"""Language of a short question: Finnish, Swedish or English (Finnish when unsure).

Signals: function and question words of each language, letters (å is Swedish, ä/ö and double
vowels lean Finnish), Finnish case endings, how many words the analyzer recognises as Finnish, and,
where the caller has a glossary, its Swedish or English words among those it does not ("South
Karelia population" has no function word to tell it by).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from ingest import stopwords
from ingest.analyze import Analyzer, make_analyzer, word_tokens

LANGUAGES = ("fi", "sv", "en")

_FINNISH_ENDING = re.compile(r"(?:ssa|ssä|sta|stä|lla|llä|lta|ltä|lle|ksi|nen|sen|iden|ien|aan|ään|tta|ttä|mme|vat|vät)$")
_DOUBLE_VOWEL = re.compile(r"(?:aa|ee|ii|oo|uu|yy|ää|öö)")
_ENGLISH_SHAPE = re.compile(r"(?:th|wh|sh|ch|w|c|q|x|z|tion|ing|ed)")
_SWEDISH_SHAPE = re.compile(r"(?:å|sj|skj|tj|ck|rna|rnas|erar|ar$|tet$|ningen$)")


# Besides the function words, the words of a short request to go on ("Tell me more", "Berätta mer"),
# which would otherwise read as Finnish ("me" and "more" are Finnish words as well).
_FUNCTION_WORDS = {
    "fi": stopwords.FINNISH | (stopwords.QUESTION_WORDS - stopwords.SWEDISH - stopwords.ENGLISH - {"varför", "vems", "vart"}),
    "sv": stopwords.SWEDISH | {"vad", "vilken", "vilket", "vilka", "vem", "vems", "hur", "varför", "vart", "mer", "berätta"},
    "en": stopwords.ENGLISH | {"me", "more", "tell"},
}


@functools.lru_cache(maxsize=1)
def _default_analyzer() -> Analyzer:
    return make_analyzer("auto")


def _shape_scores(word: str) -> tuple[float, float, float]:
    fi = sv = en = 0.0
    if "ä" in word or "ö" in word:
        fi += 0.5
        sv += 0.25
    if _DOUBLE_VOWEL.search(word) or _FINNISH_ENDING.search(word):
        fi += 0.5
    if _SWEDISH_SHAPE.search(word):
        sv += 0.75
    if _ENGLISH_SHAPE.search(word):
        en += 0.5
    return fi, sv, en


# What a glossary says of a word: the languages (of "sv", "en") whose terms it is one of.
Glossed = Callable[[str], Sequence[str]]


def language_scores(text: str, analyzer: Analyzer | None = None, glossed: Glossed | None = None) -> dict[str, float]:
    """Evidence for each language in ``text``; higher is more likely. A word the analyzer does not know as
    Finnish and ``glossed`` finds among a language's glossary terms weighs as a known Finnish word does."""
    analyzer = analyzer or _default_analyzer()
    scores = dict.fromkeys(LANGUAGES, 0.0)
    written = word_tokens(text, keep_case=True)
    names = _names(written)
    for word in (token.lower() for token in written):
        if any(ch.isdigit() for ch in word) or word in names:
            continue
        lists = [lang for lang, words in _FUNCTION_WORDS.items() if word in words]
        for lang in lists:
            scores[lang] += 2.0 / len(lists)
        in_sv, in_en = "sv" in lists, "en" in lists
        if not (in_sv or in_en):
            if analyzer.analyze_word(word).known:
                scores["fi"] += 1.5
            elif not lists and glossed is not None and (found := [lang for lang in glossed(word) if lang in scores]):
                for lang in found:
                    scores[lang] += 1.5 / len(found)
        fi, sv, en = _shape_scores(word)
        scores["fi"] += fi
        scores["sv"] += sv
        scores["en"] += en
    return scores


def _names(written: Sequence[str]) -> set[str]:
    """The words (``written`` as they are) capitalised after the first: names ("Kuntaliitto", "Lappland"), which
    any language's question may use, so they are no evidence of one (unless the question is nothing but names)."""
    words = [token for token in written if token[:1].isalpha()]
    names = {word.lower() for word in words[1:] if word[:1].isupper()}
    return names if {token.lower() for token in written} - names else set()


def detect_language(text: str, analyzer: Analyzer | None = None, glossed: Glossed | None = None) -> str:
    """Return "fi", "sv" or "en" for ``text`` (typically a short question); "fi" when unsure."""
    scores = language_scores(text, analyzer, glossed)
    best = max(scores.values())
    if best <= 0 or scores["fi"] >= best:
        return "fi"
    return "sv" if scores["sv"] >= scores["en"] else "en"
