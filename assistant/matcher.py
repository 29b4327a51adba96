"""One matcher and one stemmer for everything that asks "does this text say what the question says".

A question's concept (``Query.lemmas``) is covered by a term that is the lemma, one of its synonyms
(``synonyms.txt``), or a derivation of either: a term starting with the form's stem, all but its
last two letters and at least ``STEM_CHARS`` ("rahoittaja" covers "rahoittaa"). Retrieval, the
evidence stage, selection and answerability all use this one rule. Given the analyzer, as the evidence
stage gives it (and selection and answerability read the evidence's coverage), a compound also covers
what its last part covers ("lauluperinne" covers "perinne", "hyte-yhteistyö" covers "yhteistyö"): the
compound names a kind of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ingest.analyze import Analyzer

if TYPE_CHECKING:  # the query module reads the index's words by this module's stem rule
    from assistant.query import Query

STEM_CHARS = 6
# The shortest last piece of a hyphenated word read as its head ("sote-uudistus" -> "uudistus").
HEAD_CHARS = 3


def stem(form: str) -> str | None:
    """What derivations of ``form`` share: all but its last two letters, at least ``STEM_CHARS``."""
    size = max(STEM_CHARS, len(form) - 2)
    return form[:size] if len(form) >= size else None


def heads(term: str, analyzer: Analyzer) -> tuple[str, ...]:
    """What a compound term is a kind of: its last part ("lauluperinne" -> "perinne"), and for a hyphenated
    term its last piece's lemma and that piece's own last part ("hyte-yhteistyö" -> "yhteistyö", "työ")."""
    found = [analyzer.analyze_word(term).head]
    last = term.strip("-").rpartition("-")[2]
    if last != term.strip("-") and len(last) >= HEAD_CHARS and last.isalpha():
        analysis = analyzer.analyze_word(last)
        found.extend((analysis.lemmas[0], analysis.head))
    return tuple(dict.fromkeys(head for head in found if head and head != term))


class Matcher:
    """Which of the question's concepts a term covers; worked out once per term and question.

    With an ``analyzer``, a compound term also covers what its head covers (``heads``)."""

    def __init__(self, query: Query, analyzer: Analyzer | None = None) -> None:
        self._forms = [(lemma, form, stem(form)) for lemma in query.lemmas for form in query.variants(lemma)]
        self._analyzer = analyzer
        self._cache: dict[str, frozenset[str]] = {}

    def concepts_of(self, term: str) -> frozenset[str]:
        """The question's concepts that ``term`` (or its head) covers."""
        found = self._cache.get(term)
        if found is None:
            words = (term, *heads(term, self._analyzer)) if self._analyzer is not None else (term,)
            found = self._cache[term] = frozenset(
                lemma for lemma, form, prefix in self._forms for word in words
                if word == form or (prefix and word.startswith(prefix))
            )
        return found

    def covered(self, terms: Iterable[str]) -> frozenset[str]:
        """The question's concepts that any of ``terms`` covers."""
        result: set[str] = set()
        for term in terms:
            result |= self.concepts_of(term)
        return frozenset(result)

    def share(self, terms: Iterable[str], weights: Mapping[str, float]) -> float:
        """The weighted share of the concepts in ``weights`` that ``terms`` cover (0 without weights)."""
        return weighted_share(self.covered(terms), weights)


def weighted_share(covered: frozenset[str], weights: Mapping[str, float]) -> float:
    """The weighted share of the concepts in ``weights`` that are in ``covered`` (0 without weights)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(weight for concept, weight in weights.items() if concept in covered) / total
