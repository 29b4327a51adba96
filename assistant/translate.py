"""Swedish and English questions to Finnish search words through the domain glossary.

The sources are Finnish, so the keyword side finds nothing for "Who funds the project?" and the
small multilingual embedding model alone ranks Finnish slides poorly for it. The glossary
(``glossary.tsv``: Finnish terms of municipal and wellbeing-services administration with their
Swedish and English equivalents) maps the question's words to Finnish ones, which the keyword
index, the answerer and the refusal decision then use like the words of a Finnish question.

Matching is on Snowball word stems, longest phrase first, so "municipalities", "municipal" and
"municipality" all meet "kunta". Swedish compounds are split into two glossary words where they
can be ("samarbetsprojektet" -> "samarbete" + "projekt").
"""

from __future__ import annotations

import csv
import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import snowballstemmer

from kysy.errors import ConfigError

logger = logging.getLogger(__name__)

GLOSSARY_PATH = Path(__file__).with_name("glossary.tsv")
LANGUAGES = {"sv": "swedish", "en": "english"}
# Shortest first part of a split Swedish compound ("kommun" + "förbundet").
MIN_COMPOUND_PART = 4
_WORD = re.compile(r"[^\W\d_]+(?:[-:][^\W\d_]+)*|\d+")


@dataclass(frozen=True)
class Translation:
    """The Finnish words found for a question, and which of its words the glossary knew."""

    finnish: tuple[str, ...]
    matched: tuple[str, ...]
    unmatched: tuple[str, ...]

    @property
    def text(self) -> str:
        """The Finnish words as one text for the analyzer."""
        return " ".join(self.finnish)

    @property
    def names(self) -> tuple[str, ...]:
        """The Finnish terms that are proper names (places, organisations): capitalised in the glossary."""
        return tuple(term for term in self.finnish if term[:1].isupper())


class Glossary:
    """Stemmed Swedish and English phrases, each pointing to the Finnish terms it stands for."""

    def __init__(self, rows: Iterable[tuple[Sequence[str], dict[str, Sequence[str]]]]) -> None:
        self._stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in LANGUAGES.items()}
        # language -> first stem -> [(stems of the phrase, Finnish terms)], longest phrase first
        self._phrases: dict[str, dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]] = {
            lang: {} for lang in LANGUAGES
        }
        self._single: dict[str, dict[str, tuple[str, ...]]] = {lang: {} for lang in LANGUAGES}
        for finnish, sides in rows:
            for lang, phrases in sides.items():
                for phrase in phrases:
                    self._add(lang, phrase, tuple(finnish))
        for table in self._phrases.values():
            for entries in table.values():
                entries.sort(key=lambda entry: -len(entry[0]))

    def _add(self, lang: str, phrase: str, finnish: tuple[str, ...]) -> None:
        stems = self.stems(phrase, lang)
        if not stems:
            return
        entries = self._phrases[lang].setdefault(stems[0], [])
        known = next((entry for entry in entries if entry[0] == stems), None)
        if known is not None:
            entries[entries.index(known)] = (stems, tuple(dict.fromkeys((*known[1], *finnish))))
        else:
            entries.append((stems, finnish))
        if len(stems) == 1:
            self._single[lang][stems[0]] = tuple(dict.fromkeys((*self._single[lang].get(stems[0], ()), *finnish)))

    @classmethod
    def load(cls, path: Path = GLOSSARY_PATH) -> Glossary:
        """Read a ``fi<TAB>sv<TAB>en`` file (alternatives separated by ";", "#" starts a comment).

        Raises:
            ConfigError: the file is missing or a row lacks its three columns.
        """
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the glossary {path}: {exc}") from exc
        rows: list[tuple[Sequence[str], dict[str, Sequence[str]]]] = []
        body = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        for number, cells in enumerate(csv.reader(body[1:], delimiter="\t"), start=2):
            if len(cells) != 3:
                raise ConfigError(f"{path}: row {number} needs fi, sv and en columns, got {len(cells)}")
            fi, sv, en = (_alternatives(cell) for cell in cells)
            rows.append((fi, {"sv": sv, "en": en}))
        return cls(rows)

    def stems(self, text: str, lang: str) -> tuple[str, ...]:
        """Lower-cased Snowball stems of the words of ``text``."""
        return tuple(self._stemmers[lang].stemWords([word.lower() for word in _words(text)]))

    def translate(self, text: str, lang: str) -> Translation:
        """The Finnish terms for the words of ``text`` (a Swedish or English question)."""
        if lang not in LANGUAGES:
            return Translation((), (), ())
        words = _words(text)
        stems = self._stemmers[lang].stemWords([word.lower() for word in words])
        finnish: list[str] = []
        matched: list[str] = []
        unmatched: list[str] = []
        i = 0
        while i < len(stems):
            found = self._match(lang, stems, i)
            if found is not None:
                size, terms = found
                finnish.extend(terms)
                matched.extend(words[i : i + size])
                i += size
                continue
            parts = self._split_compound(lang, words[i].lower()) if lang == "sv" else ()
            if parts:
                finnish.extend(parts)
                matched.append(words[i])
            else:
                unmatched.append(words[i])
            i += 1
        return Translation(tuple(dict.fromkeys(finnish)), tuple(matched), tuple(unmatched))

    def _match(self, lang: str, stems: Sequence[str], start: int) -> tuple[int, tuple[str, ...]] | None:
        for phrase, finnish in self._phrases[lang].get(stems[start], ()):
            if tuple(stems[start : start + len(phrase)]) == phrase:
                return len(phrase), finnish
        return None

    def _split_compound(self, lang: str, word: str) -> tuple[str, ...]:
        """Finnish terms of a two-part compound whose parts are both glossary words, else ()."""
        single = self._single[lang]
        stemmer = self._stemmers[lang]
        for cut in range(len(word) - MIN_COMPOUND_PART, MIN_COMPOUND_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            head_terms = single.get(stemmer.stemWord(head)) or single.get(head)
            if head_terms is None and head.endswith("s"):
                head_terms = single.get(stemmer.stemWord(head[:-1])) or single.get(head[:-1])
            tail_terms = single.get(stemmer.stemWord(tail))
            if head_terms and tail_terms:
                return tuple(dict.fromkeys((*head_terms, *tail_terms)))
        return ()


def _words(text: str) -> list[str]:
    """The words of ``text`` that the glossary matches: letters (with inner "-" or ":"), or numbers."""
    return [word for word in _WORD.findall(text) if len(word) > 1 or word.isdigit()]


def _alternatives(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


@functools.lru_cache(maxsize=4)
def load_glossary(path: Path = GLOSSARY_PATH) -> Glossary:
    """The glossary, read once per process."""
    glossary = Glossary.load(path)
    logger.debug("glossary loaded from %s", path)
    return glossary
