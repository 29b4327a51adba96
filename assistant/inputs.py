"""What a question and its history may be before anything works on them.

Every route validates user text with ``valid_text`` (valid Unicode: no unpaired surrogates; 422
otherwise) and checks its size limits on the text as sent. ``Assistant.respond`` then hands the
question and history to ``prepare_question`` before anything else: the normalisation documents get
at ingest (NFC, invisible characters removed), and what is analysed and embedded cut to
``question_budget_chars``, so a legal but long question costs about as much as a short one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from ingest.normalize import normalize_input
from kysy.errors import InvalidInputError
from kysy.models import Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)


def valid_text(value: str) -> str:
    """``value`` unchanged when it is valid Unicode text.

    Raises:
        InvalidInputError: the text holds an unpaired UTF-16 surrogate (JSON allows ``"\\ud800"``).
    """
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise InvalidInputError(
                f"the text has an unpaired surrogate U+{ord(char):04X} at position {index}; send valid UTF-8 text"
            )
    return value


def checked_text(value: str) -> str:
    """``value`` validated, then normalised as documents are (NFC, no invisible or control characters).

    Raises:
        InvalidInputError: the text is not valid Unicode.
    """
    return normalize_input(valid_text(value))


def not_blank(value: str) -> str:
    """``value`` unchanged when something visible is left after normalisation.

    Raises:
        ValueError: only spaces or invisible characters.
    """
    if not normalize_input(value).strip():
        raise ValueError("must not be empty (or only spaces and invisible characters)")
    return value


def within_budget(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at a word boundary where there is one."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def prepare_question(question: str, history: Sequence[Turn], settings: Settings) -> tuple[str, list[Turn]]:
    """The question and history as the assistant works on them: checked, normalised, within the budget.

    The full question is logged when it is cut; what is searched with is its first
    ``settings.question_budget_chars`` characters (each history message likewise).

    Raises:
        InvalidInputError: the question is empty, or it or a history message is not valid text.
    """
    budget = settings.question_budget_chars
    text = checked_text(question)
    if not text:
        raise InvalidInputError("the question is empty (or only spaces and invisible characters)")
    cut = within_budget(text, budget)
    if cut != text:
        logger.info("question of %d characters searched by its first %d: %r", len(text), len(cut), text)
    turns = [replace(turn, content=within_budget(checked_text(turn.content), budget)) for turn in history]
    return cut, turns
