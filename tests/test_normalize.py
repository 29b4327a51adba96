"""normalize_text: one canonical form for every loader's text."""

from __future__ import annotations

import pytest

from ingest.normalize import invisible_chars, normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yhteis-\ntyö", "yhteistyö"),
        ("KUNTA-\nneuvottelut", "KUNTA-neuvottelut"),
        ("HYTE-\nrakenne", "HYTE-rakenne"),
        ("Etelä-\nKarjala", "Etelä-Karjala"),
        ("sosiaali-\nja terveys", "sosiaali- ja terveys"),
        ("e\u0301", "é"),
        ("\ufb01nanssi \ufb02ow \ufb03", "finanssi flow ffi"),
        ("yhteis\u00adtyö", "yhteistyö"),
        ("a\u200bb\u200cc\u200dd\u2060e\ufefff", "abcdef"),
        ("\u202ekunta\u202c \u2066alue\u2069 \u200e\u200f", "kunta alue"),
        ("127\u00a0000  ja\u202f5,5   kpl  ", "127 000 ja 5,5 kpl"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("• eka\n◦ toka\n▪ kolmas", "- eka\n- toka\n- kolmas"),
        ("– lyhyt kohta\n— toinen kohta", "- lyhyt kohta\n- toinen kohta"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_quotation_dash_before_long_sentence_is_kept() -> None:
    quote = "— Me haluamme tarjota osaamisemme hyvinvointialueiden käyttöön ja tehdä yhteistyötä jatkossakin, hän sanoo."
    assert normalize_text(quote) == quote


def test_invisible_chars_counts_smuggling_only() -> None:
    assert invisible_chars("a\u200bb\u202ec\u2066d\ufeff") == 4
    assert invisible_chars("yhteis\u00adtyö") == 0


def test_idempotent() -> None:
    text = "# Otsikko\n\n- kohta\n\nKappale yhteis-\ntyöstä."
    assert normalize_text(normalize_text(text)) == normalize_text(text)


def test_a_very_long_word_is_normalised_in_linear_time() -> None:
    import time

    started = time.perf_counter()
    assert normalize_text("a" * 200_000 + "-\nb") == "a" * 200_000 + "b"
    assert time.perf_counter() - started < 1.0
