"""Language of a short question: Finnish, Swedish or English (Finnish when unsure).

Signals: function and question words of each language, letters (å is Swedish, ä/ö and double
vowels lean Finnish), Finnish case endings, and how many words the analyzer recognises as Finnish.
"""

from __future__ import annotations

import functools
import re

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


def language_scores(text: str, analyzer: Analyzer | None = None) -> dict[str, float]:
    """Evidence for each language in ``text``; higher is more likely."""
    analyzer = analyzer or _default_analyzer()
    scores = dict.fromkeys(LANGUAGES, 0.0)
    for word in word_tokens(text):
        if any(ch.isdigit() for ch in word):
            continue
        lists = [lang for lang, words in _FUNCTION_WORDS.items() if word in words]
        for lang in lists:
            scores[lang] += 2.0 / len(lists)
        in_sv, in_en = "sv" in lists, "en" in lists
        if not (in_sv or in_en) and analyzer.analyze_word(word).known:
            scores["fi"] += 1.5
        fi, sv, en = _shape_scores(word)
        scores["fi"] += fi
        scores["sv"] += sv
        scores["en"] += en
    return scores


def detect_language(text: str, analyzer: Analyzer | None = None) -> str:
    """Return "fi", "sv" or "en" for ``text`` (typically a short question); "fi" when unsure."""
    scores = language_scores(text, analyzer)
    best = max(scores.values())
    if best <= 0 or scores["fi"] >= best:
        return "fi"
    return "sv" if scores["sv"] >= scores["en"] else "en"
