"""What a question and its history may be before anything works on them.

Every route validates user text with ``valid_text`` (valid Unicode: no unpaired surrogates; 422
otherwise) and checks its size limits on the text as sent. ``Assistant.respond`` then hands the
question and history to ``prepare_question`` before anything else: the normalisation documents get
at ingest (NFC, invisible characters removed), HTML markup pasted along with a question taken out
(``without_markup``: "<script>...</script> Mikä on ...?" is asked as "Mikä on ...?"), and what is analysed
and embedded cut to ``question_budget_chars``, so a legal but long question costs about as much as a short one.

``preamble`` splits a message that opens with sentences that ask nothing ("Hei! Olen kunnan
hyte-koordinaattori ja valmistelen esitystä. Mikä on ...?") into that opening and the part that asks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from html.parser import HTMLParser

from ingest.normalize import normalize_input
from kysy.errors import InvalidInputError
from kysy.models import Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# Something shaped like an HTML tag or comment: "<p>", "</b>", "<script src=x>", "<!-- -->" (not "< 5" or "<3").
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]*>")
# Elements whose content is code, not text.
_CODE_ELEMENTS = frozenset({"script", "style"})
# The end of a sentence: ".", "!" or "?" after a letter (not a date's "15.12."), closing quotes or brackets,
# space, then a capital letter or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[^\W\d_][.!?])[\"'”’»)]*\s+(?=[\"'“”«(]*[A-ZÅÄÖÉÜ])")


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


class _TextOf(HTMLParser):
    """The text of a fragment of HTML: its character data outside script and style elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._code += tag in _CODE_ELEMENTS

    def handle_endtag(self, tag: str) -> None:
        if tag in _CODE_ELEMENTS and self._code:
            self._code -= 1

    def handle_data(self, data: str) -> None:
        if not self._code:
            self.parts.append(data)


def without_markup(text: str) -> str:
    """``text`` with its HTML tags, comments and the content of script and style elements taken out
    (``html.parser``); text with nothing shaped like a tag is returned as it is."""
    if not _TAG.search(text):
        return text
    parser = _TextOf()
    parser.feed(text)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def preamble(text: str) -> tuple[str, str]:
    """``(opening, asked)``: the sentences before the first one that ends with a question mark, and the rest
    from it on; ``("", text)`` when the first sentence asks or none does."""
    starts = [0, *(match.end() for match in _SENTENCE_END.finditer(text))]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        if text[start:end].rstrip().rstrip("\"'”’»)").endswith("?"):
            return (text[:start].strip(), text[start:].strip()) if i else ("", text)
    return "", text


def _within_budget_asking(text: str, budget: int) -> str:
    """``within_budget`` of ``text``; but a long message whose opening asks nothing keeps its question, and
    of its opening what fits before it: "Hei! Olen ... (300 characters) ... Mikä on ...?" is searched by its
    question, not by its first 300 characters."""
    if len(text) <= budget:
        return text
    opening, asked = preamble(text)
    if not opening or len(asked) >= budget:
        return within_budget(asked if opening else text, budget)
    room = budget - len(asked) - 1
    tail = opening[len(opening) - room:] if room > 0 else ""
    space = tail.find(" ")
    tail = tail[space + 1:] if 0 <= space < len(tail) // 2 else tail
    return f"{tail} {asked}".strip()


def prepare_question(question: str, history: Sequence[Turn], settings: Settings) -> tuple[str, list[Turn]]:
    """The question and history as the assistant works on them: checked, normalised, within the budget.

    What is searched with is the question's first ``settings.question_budget_chars`` characters (each
    history message likewise); a cut is logged with the lengths only, never the text (users' questions
    stay out of the logs).

    Raises:
        InvalidInputError: the question is empty, or it or a history message is not valid text.
    """
    budget = settings.question_budget_chars
    text = checked_text(question)
    if not text:
        raise InvalidInputError("the question is empty (or only spaces and invisible characters)")
    text = without_markup(text)
    if not text:
        raise InvalidInputError("the question holds only HTML markup and no text to ask")
    cut = _within_budget_asking(text, budget)
    if cut != text:
        logger.info("question of %d characters searched by its first %d", len(text), len(cut))
    turns = [replace(turn, content=within_budget(without_markup(checked_text(turn.content)), budget)) for turn in history]
    return cut, turns
