"""Messages that ask nothing of the materials: a greeting, thanks, a bare "?" or emoji, or a question to
the assistant about itself. They get a short reply in the asker's language (``messages.smalltalk_text``),
saying what the assistant answers from and naming a few of its documents, instead of quotes that merely
share a word with them ("kiitos!" once drew "Tervetuloa tekemään yhteistyötä kanssamme!").

A message is small talk when every word of it is one of ``words/smalltalk.txt`` (or it has no word at
all) and it holds no number. After earlier turns a message with a question word ("Kuka?", "Mitä?") is a follow-up instead and
goes to the follow-up resolver like any other question.
"""

from __future__ import annotations

import re

from assistant.lexicon import word_table

_WORD = re.compile(r"[^\W\d_]+")


def smalltalk_kind(question: str, followup_possible: bool) -> str | None:
    """``"thanks"``, ``"greeting"``, ``"clarify"`` or ``"help"`` for a message that asks nothing of the materials,
    else None.

    ``followup_possible``: earlier turns exist, so a message with a question word may lean on them (unless it
    asks what the assistant meant: "Mitä tarkoitat?")."""
    entries = _entries(question)
    if entries is None:
        return None
    kinds = {kind for kind, _ in entries}
    if "clarify" in kinds:
        return "clarify"
    if followup_possible and "self" in kinds:
        return None
    if "thanks" in kinds:
        return "thanks"
    return "greeting" if "greeting" in kinds else "help"


def smalltalk_language(question: str) -> str | None:
    """The language of a small-talk message when its words belong to one language only ("Hej!": "sv"), else None."""
    languages = {language for _, language in _entries(question) or () if language}
    return languages.pop() if len(languages) == 1 else None


def _entries(question: str) -> list[tuple[str, str]] | None:
    """The (kind, language) of each word of ``question`` in ``words/smalltalk.txt``; None when a word is not
    there or the message holds a number ("Och 2024?", "Entä 2025?" ask about something)."""
    if any(ch.isdigit() for ch in question):
        return None
    table = word_table("smalltalk")
    words = [word.lower() for word in _WORD.findall(question)]
    if any(word not in table for word in words):
        return None
    return [(kind, language) for kind, _, language in (table[word].partition(" ") for word in words)]
