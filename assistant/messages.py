"""User-facing texts of the assistant in Finnish, Swedish and English."""

from __future__ import annotations

from collections.abc import Sequence

_NOT_FOUND = {
    "fi": "Aineistosta ei löydy vastausta tähän kysymykseen.",
    "sv": "Materialet innehåller inget svar på den här frågan.",
    "en": "The materials do not contain an answer to this question.",
}
_SUGGEST = {
    "fi": "Aineisto käsittelee esimerkiksi näitä aiheita:",
    "sv": "Materialet behandlar till exempel dessa ämnen:",
    "en": "The materials do cover, for example, these topics:",
}
_QUOTES_NOTE = {
    "fi": "",
    "sv": "Citaten är på finska, som källorna.",
    "en": "The quotes are in Finnish, as in the sources.",
}


def not_found_text(language: str, suggestions: Sequence[str] = ()) -> str:
    """The plain 'the materials do not say' answer, with up to three covered topics."""
    lang = language if language in _NOT_FOUND else "fi"
    text = _NOT_FOUND[lang]
    if suggestions:
        text += "\n" + _SUGGEST[lang] + "\n" + "\n".join(f"- {topic}" for topic in suggestions[:3])
    return text


def quotes_note(language: str) -> str:
    """A short note that quotes stay in the source language (empty for Finnish)."""
    return _QUOTES_NOTE.get(language, "")
