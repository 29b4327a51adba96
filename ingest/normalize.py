"""Text normalisation shared by every loader: one Unicode form, no invisible characters, tidy lines.

Loaders hand page text here before anything else sees it, so the chunker, the keyword index
and the quotes shown to users all work on the same characters.
"""

from __future__ import annotations

import re
import unicodedata

LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
SOFT_HYPHEN = "\u00ad"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BIDI_CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Characters that render as nothing: counted so loaders can flag text smuggled past a reader.
INVISIBLE = ZERO_WIDTH + BIDI_CONTROLS
ODD_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t\f\v"
)

_DROP_TABLE = {ord(ch): None for ch in SOFT_HYPHEN + INVISIBLE}
_SPACE_TABLE = {ord(ch): " " for ch in ODD_SPACES}
_LIGATURE_TABLE = {ord(key): value for key, value in LIGATURES.items()}

_BULLET_CHARS = "•◦▪▫‣∙●○■□"
_BULLET_RE = re.compile(rf"^[{_BULLET_CHARS}]\s*")
_DASH_RE = re.compile(r"^[–—]\s+")
# Starts only at the start of a word: tried at every position of a long word it took quadratic time.
_LINE_HYPHEN_RE = re.compile(r"(?<!\w)(\w+)-\n(\w+)")
# After "sosiaali-" a conjunction means the hyphen marks a shared compound part ("sosiaali- ja terveys").
_CONJUNCTIONS = frozenset({"ja", "tai", "sekä", "että", "eli", "och", "eller", "and", "or"})
BULLET_MAX_WORDS = 12
# Combining marks kept after one base character. NFC composes the accents of Finnish, Swedish and
# English letters into single characters; a longer run is decoration ("zalgo" text) that only costs
# work in every stage after this one.
MAX_COMBINING_RUN = 2
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def invisible_chars(text: str) -> int:
    """Count the zero-width and bidi-control characters in ``text`` (what :func:`normalize_text` removes).

    Soft hyphens are not counted: web pages use them legitimately for hyphenation hints.
    """
    return sum(1 for ch in text if ch in INVISIBLE)


def join_hyphenated(left: str, right: str) -> str:
    """Join two pieces split at a line-end hyphen: ``yhteis-`` + ``työ`` -> ``yhteistyö``.

    An uppercase or digit-bearing part keeps its hyphen (``KUNTA-neuvottelut``, ``TE24-uudistus``),
    as does a part followed by an uppercase word (``Etelä-Karjala``) or a conjunction (``sosiaali- ja``).
    """
    first = right.split(" ", 1)[0]
    if first.casefold() in _CONJUNCTIONS:
        return f"{left} {right}"
    fragment = re.split(r"[^\w-]", left[:-1])[-1].rsplit("-", 1)[-1]
    keep = (
        (len(fragment) >= 2 and fragment.isupper())
        or any(ch.isdigit() for ch in fragment)
        or (first[:1].isupper() or first[:1].isdigit())
    )
    return f"{left}{right}" if keep else f"{left[:-1]}{right}"


def _rejoin_hyphens(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        return join_hyphenated(match.group(1) + "-", match.group(2))

    return _LINE_HYPHEN_RE.sub(repl, text)


def _is_bulletish(line: str) -> bool:
    return bool(_BULLET_RE.match(line) or _DASH_RE.match(line))


def _fix_bullets(lines: list[str]) -> list[str]:
    """Turn bullet glyphs into ``- ``; a leading dash only where it is used as a bullet.

    A dash before a long sentence is a Finnish quotation dash and stays as it is, unless
    the line sits in a run of dash lines (a list).
    """
    out = []
    for index, line in enumerate(lines):
        if _BULLET_RE.match(line):
            line = _BULLET_RE.sub("- ", line, count=1)
        elif _DASH_RE.match(line):
            rest = _DASH_RE.sub("", line, count=1)
            neighbours = [lines[i] for i in (index - 1, index + 1) if 0 <= i < len(lines)]
            short = len(rest.split()) <= BULLET_MAX_WORDS and not rest.rstrip().endswith((".", "!", "?"))
            if short or any(_is_bulletish(other) for other in neighbours):
                line = "- " + rest
        out.append(line)
    return out


def normalize_text(text: str) -> str:
    """Return ``text`` in one canonical form.

    NFC; ligatures expanded; soft hyphens, zero-width and bidi controls removed; line-end hyphens
    rejoined; odd spaces made plain and collapsed; lines stripped; at most one blank line;
    bullet glyphs as ``- ``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.translate(_LIGATURE_TABLE).translate(_DROP_TABLE)
    text = unicodedata.normalize("NFC", text).translate(_SPACE_TABLE)
    text = re.sub(r" {2,}", " ", text)
    lines = [line.strip() for line in text.split("\n")]
    text = _rejoin_hyphens("\n".join(lines))
    lines = _fix_bullets(text.split("\n"))
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def limit_combining_marks(text: str, max_run: int = MAX_COMBINING_RUN) -> str:
    """Drop combining marks beyond ``max_run`` in a row (after NFC, real text never has more)."""
    if not any(unicodedata.combining(ch) for ch in text):
        return text
    out: list[str] = []
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.combining(ch) else 0
        if run <= max_run:
            out.append(ch)
    return "".join(out)


def normalize_input(text: str) -> str:
    """A question or chat message in the form documents are indexed in.

    :func:`normalize_text` (NFC, invisible characters and soft hyphens removed, spaces tidied),
    control characters removed and runs of combining marks limited, so that "yhdyspinta" typed
    decomposed or with a zero-width space meets the indexed word.
    """
    return limit_combining_marks(_CONTROL.sub("", normalize_text(text)))
