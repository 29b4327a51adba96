"""The one matcher: which of a question's concepts a term covers."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.matcher import Matcher, heads
from assistant.query import Query
from ingest.analyze import VoikkoAnalyzer, voikko_available


@pytest.fixture(scope="module")
def voikko() -> VoikkoAnalyzer:
    if not voikko_available():
        pytest.skip("libvoikko with voikko-fi not installed")
    return VoikkoAnalyzer()


def _query(*lemmas: str, synonyms: dict[str, frozenset[str]] | None = None) -> Query:
    return Query(" ".join(lemmas), np.zeros(3, dtype=np.float32), lemmas, frozenset(lemmas), synonyms=synonyms or {})


def test_a_lemma_a_synonym_or_a_derivation_covers_a_concept() -> None:
    matcher = Matcher(_query("rahoittaa", "hanke", synonyms={"hanke": frozenset({"projekti"})}))
    assert matcher.concepts_of("rahoittaa") == {"rahoittaa"}
    assert matcher.concepts_of("rahoittaja") == {"rahoittaa"}  # the stem "rahoitt"
    assert matcher.concepts_of("projekti") == {"hanke"}
    assert matcher.concepts_of("rahoitus") == frozenset()


def test_a_compound_covers_what_its_last_part_covers(voikko: VoikkoAnalyzer) -> None:
    matcher = Matcher(_query("perinne", "yhteistyö", "laulu", "liitto"), voikko)
    assert matcher.concepts_of("lauluperinne") == {"perinne"}  # a kind of tradition, not a kind of song
    assert matcher.concepts_of("hyte-yhteistyö") == {"yhteistyö"}  # a hyphenated word by its last piece
    assert matcher.concepts_of("maakuntaliitto") == {"liitto"}
    assert matcher.covered(["lauluperinne", "hyte-yhteistyö"]) == {"perinne", "yhteistyö"}
    # without the analyzer only the word itself counts
    assert Matcher(_query("perinne")).concepts_of("lauluperinne") == frozenset()


def test_a_compound_s_heads_are_its_last_part_and_last_piece(voikko: VoikkoAnalyzer) -> None:
    assert heads("lauluperinne", voikko) == ("perinne",)
    assert heads("hyte-yhteistyö", voikko) == ("yhteistyö", "työ")
    assert heads("sote-uudistus", voikko) == ("uudistus",)
    assert heads("perinne", voikko) == ()
    assert heads("te2024-uudistus", voikko) == ("uudistus",)
