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
_LEAD = {
    "fi": "Aineiston mukaan:",
    "sv": "Enligt materialet:",
    "en": "According to the materials:",
}
_QUOTES_NOTE = {
    "fi": "",
    "sv": "Citaten är på finska, som källorna.",
    "en": "The quotes are in Finnish, as in the sources.",
}
_FALLBACK_NOTE = {
    "fi": "Kielimalli ei ollut käytettävissä, joten vastaus on koottu suoraan lähteistä.",
    "sv": "Språkmodellen var inte tillgänglig, så svaret består av citat ur källorna.",
    "en": "The language model was not available, so the answer quotes the sources directly.",
}


def _lang(language: str) -> str:
    return language if language in _NOT_FOUND else "fi"


def not_found_text(language: str, suggestions: Sequence[str] = ()) -> str:
    """The plain 'the materials do not say' answer, with up to three covered topics."""
    lang = _lang(language)
    text = _NOT_FOUND[lang]
    if suggestions:
        text += "\n" + _SUGGEST[lang] + "\n" + "\n".join(f"- {topic}" for topic in suggestions[:3])
    return text


def lead_line(language: str) -> str:
    """The line that introduces quoted sources ("Aineiston mukaan:")."""
    return _LEAD[_lang(language)]


def quotes_note(language: str) -> str:
    """A short note that quotes stay in the source language (empty for Finnish)."""
    return _QUOTES_NOTE.get(language, "")


def fallback_note(language: str) -> str:
    """A note that the language model failed and the answer is extractive."""
    return _FALLBACK_NOTE[_lang(language)]
