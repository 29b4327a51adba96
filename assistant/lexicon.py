"""Word lists kept as data (``assistant/words/*.txt``), read once: one entry per line, ``#`` comments.

A behaviour that is a list of words (pointing words, question words, openers of a follow-up) is
data a deployer can read and extend, not a set literal in code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from kysy.errors import ConfigError

WORDS_DIR = Path(__file__).with_name("words")
# A word of a question as the lists' phrases are matched against it: letters and digits, a hyphenated compound whole
# (any of the hyphens a keyboard or a word processor writes).
WORD = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")


@functools.lru_cache(maxsize=32)
def word_list(name: str, directory: Path = WORDS_DIR) -> tuple[str, ...]:
    """The entries of ``<directory>/<name>.txt``, lowercased, in file order, without repeats.

    Raises:
        ConfigError: the file cannot be read.
    """
    path = directory / f"{name}.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the word list {path}: {exc}") from exc
    entries = ("\t".join(" ".join(part.split()) for part in line.split("#", 1)[0].lower().split("\t")).strip()
               for line in lines)
    return tuple(dict.fromkeys(entry for entry in entries if entry))


@functools.lru_cache(maxsize=32)
def word_set(name: str, directory: Path = WORDS_DIR) -> frozenset[str]:
    """``word_list`` as a set, for membership tests (built once)."""
    return frozenset(word_list(name, directory))


@functools.lru_cache(maxsize=32)
def word_table(name: str, directory: Path = WORDS_DIR) -> Mapping[str, str]:
    """``word_list`` entries of the form "key value" as a read-only mapping (a lone key maps to ""), built once.

    The key and the value are separated by a tab when the entry has one (a key of several words:
    "kuinka monta<TAB>count"), else by the first space.
    """
    table: dict[str, str] = {}
    for entry in word_list(name, directory):
        key, _, value = entry.partition("\t") if "\t" in entry else entry.partition(" ")
        table.setdefault(key.strip(), value.strip())
    return MappingProxyType(table)


def opening_words(words: Sequence[str]) -> int:
    """How many of the first of ``words`` (lower case) are the longest follow-up opening of
    ``words/openers.txt`` ("and what about", not "and"); 0 without one."""
    openers = word_set("openers")
    longest = max((len(opener.split()) for opener in openers), default=0)
    return next((size for size in range(min(len(words), longest), 0, -1) if " ".join(words[:size]) in openers), 0)
