"""One matcher and one stemmer for everything that asks "does this text say what the question says".

A question's concept (``Query.lemmas``) is covered by a term that is the lemma, one of its synonyms
(``synonyms.txt``), or a derivation of either: a term starting with the form's stem, all but its
last two letters and at least ``STEM_CHARS`` ("rahoittaja" covers "rahoittaa"). Retrieval, the
evidence stage, selection and answerability all use this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from assistant.query import Query

STEM_CHARS = 6


def stem(form: str) -> str | None:
    """What derivations of ``form`` share: all but its last two letters, at least ``STEM_CHARS``."""
    size = max(STEM_CHARS, len(form) - 2)
    return form[:size] if len(form) >= size else None


class Matcher:
    """Which of the question's concepts a term covers; worked out once per term and question."""

    def __init__(self, query: Query) -> None:
        self._forms = [(lemma, form, stem(form)) for lemma in query.lemmas for form in query.variants(lemma)]
        self._cache: dict[str, frozenset[str]] = {}

    def concepts_of(self, term: str) -> frozenset[str]:
        """The question's concepts that ``term`` covers."""
        found = self._cache.get(term)
        if found is None:
            found = self._cache[term] = frozenset(
                lemma for lemma, form, prefix in self._forms if term == form or (prefix and term.startswith(prefix))
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
        total = sum(weights.values())
        if not total:
            return 0.0
        covered = self.covered(terms)
        return sum(weight for concept, weight in weights.items() if concept in covered) / total
