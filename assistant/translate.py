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
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import snowballstemmer

from assistant.lexicon import word_list
from ingest.analyze import Analyzer
from kysy.errors import ConfigError

logger = logging.getLogger(__name__)

GLOSSARY_PATH = Path(__file__).with_name("glossary.tsv")
VOCABULARY_PATH = Path(__file__).with_name("vocabulary.tsv")
LANGUAGES = {"sv": "swedish", "en": "english"}
# Shortest first part of a split Swedish compound ("kommun" + "förbundet").
MIN_COMPOUND_PART = 4
_VOWELS = frozenset("aeiouyåäöé")
# Endings of a Swedish word whose stem ends in a vowel that Snowball leaves on: the plural "-n" and the
# definite "-na", "-n", "-t" ("teman", "temana", "idén", "temat"); tried longest first.
SWEDISH_ENDINGS = ("na", "n", "t")
# The fewest letters of a question's stem or word that may take a one-word phrase's stem or word one letter
# off it (shorter words differ by a letter too often: "land" and "band").
NEAR_STEM = 8
_WORD = re.compile(r"[^\W\d_]+(?:[-:][^\W\d_]+)*|\d+")


@dataclass(frozen=True)
class Translation:
    """The Finnish words found for a question, and which of its words the glossary knew.

    ``alternatives`` holds, for each phrase of the question the glossary matched, the Finnish terms it
    gave: alternatives for one thing ("continue" -> "jatkua", "jatko"), not several things asked.
    """

    finnish: tuple[str, ...]
    matched: tuple[str, ...]
    unmatched: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...] = ()

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

    def __init__(self, *tiers: Iterable[tuple[Sequence[str], dict[str, Sequence[str]]]],
                 function_words: Mapping[str, Iterable[str]] | None = None) -> None:
        """``tiers`` of rows, the first first: rows of one tier that share a phrase merge their Finnish
        terms; a later tier only adds the phrases no earlier tier has, and no one-word phrase that
        stems like a language's ``function_words`` (the Swedish "föra" would catch every "för").
        A later tier's word that only stems like an earlier tier's word ("share" like the glossary's
        "shared") is kept as well: where the question has that very word, its terms are alternatives
        beside the earlier word's."""
        self._stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in LANGUAGES.items()}
        closed = {lang: {self._stem(lang, word) for word in (function_words or {}).get(lang, ())} for lang in LANGUAGES}
        # language -> first stem -> [(stems of the phrase, Finnish terms)], longest phrase first
        self._phrases: dict[str, dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]] = {
            lang: {} for lang in LANGUAGES
        }
        self._single: dict[str, dict[str, tuple[str, ...]]] = {lang: {} for lang in LANGUAGES}
        # language -> lower-cased word -> Finnish terms, for the words of a later tier that stem like a
        # different word of an earlier one
        self._exact: dict[str, dict[str, tuple[str, ...]]] = {lang: {} for lang in LANGUAGES}
        # language -> stem -> lower-cased one-word phrase -> Finnish terms: the words that share a stem
        # ("organise" -> järjestää, "organisation" -> organisaatio)
        self._surface: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {lang: {} for lang in LANGUAGES}
        for tier, rows in enumerate(tiers):
            earlier = {lang: {stems for entries in table.values() for stems, _ in entries}
                       | ({(stem,) for stem in closed[lang]} if tier else set())
                       for lang, table in self._phrases.items()}
            for finnish, sides in rows:
                for lang, phrases in sides.items():
                    for phrase in phrases:
                        stems, word = self.stems(phrase, lang), phrase.lower()
                        if stems and stems not in earlier[lang]:
                            self._add(lang, stems, tuple(finnish))
                            if len(stems) == 1:
                                forms = self._surface[lang].setdefault(stems[0], {})
                                forms[word] = tuple(dict.fromkeys((*forms.get(word, ()), *finnish)))
                        elif (len(stems) == 1 and stems[0] not in closed[lang] and stems[0] in self._surface[lang]
                              and word not in self._surface[lang][stems[0]]):  # an earlier tier's word stems like it
                            known = self._exact[lang].get(word, ())
                            self._exact[lang][word] = tuple(dict.fromkeys((*known, *finnish)))
        for table in self._phrases.values():
            for entries in table.values():
                entries.sort(key=lambda entry: -len(entry[0]))
        self._known = {lang: {stem for entries in table.values() for stems, _ in entries for stem in stems}
                       for lang, table in self._phrases.items()}
        self._closed = closed
        self._by_length, self._words_by_length = self._lengths(closed)

    def _lengths(self, closed: Mapping[str, set[str]]) -> tuple[dict[str, dict[int, list[tuple[str, str]]]], ...]:
        """The one-word phrases' stems and words, each with its stem, by length and language (no function
        word's): where a question's stem or word one letter off one of them is looked for."""
        stems: dict[str, dict[int, list[tuple[str, str]]]] = {lang: {} for lang in LANGUAGES}
        words: dict[str, dict[int, list[tuple[str, str]]]] = {lang: {} for lang in LANGUAGES}
        for lang, single in self._single.items():
            for stem in sorted(set(single) - closed[lang]):
                stems[lang].setdefault(len(stem), []).append((stem, stem))
                for form in sorted(self._surface[lang].get(stem, {})):
                    words[lang].setdefault(len(form), []).append((form, stem))
        return stems, words

    def _add(self, lang: str, stems: tuple[str, ...], finnish: tuple[str, ...]) -> None:
        entries = self._phrases[lang].setdefault(stems[0], [])
        known = next((entry for entry in entries if entry[0] == stems), None)
        if known is not None:
            entries[entries.index(known)] = (stems, tuple(dict.fromkeys((*known[1], *finnish))))
        else:
            entries.append((stems, finnish))
        if len(stems) == 1:
            self._single[lang][stems[0]] = tuple(dict.fromkeys((*self._single[lang].get(stems[0], ()), *finnish)))

    @classmethod
    def load(cls, path: Path = GLOSSARY_PATH, *more: Path) -> Glossary:
        """Read ``fi<TAB>sv<TAB>en`` files (alternatives separated by ";", "#" starts a comment), each
        file a tier: a phrase takes its Finnish terms from the first file that has it. The function
        words are ``words/function_words.<language>.txt``.

        Raises:
            ConfigError: a file is missing or a row lacks its three columns.
        """
        closed = {lang: word_list(f"function_words.{lang}") for lang in LANGUAGES}
        return cls(*(_rows(file) for file in (path, *more)), function_words=closed)

    @property
    def finnish_terms(self) -> frozenset[str]:
        """Every Finnish term some Swedish or English phrase leads to."""
        return frozenset(term for table in self._phrases.values() for entries in table.values()
                         for _, terms in entries for term in terms)

    def languages_of(self, word: str) -> tuple[str, ...]:
        """The languages (of "sv", "en") whose glossary phrases hold ``word``, by its stem; none for a
        function word of the language. The language detector's evidence for a question without function words."""
        word = word.lower()
        return tuple(lang for lang in LANGUAGES
                     if (stem := self._stem(lang, word)) in self._known[lang] and stem not in self._closed[lang])

    def stems(self, text: str, lang: str) -> tuple[str, ...]:
        """Lower-cased Snowball stems of the words of ``text``."""
        return tuple(self._stem(lang, word.lower()) for word in _words(text))

    def _stem(self, lang: str, word: str) -> str:
        """A word's Snowball stem; Swedish words are stemmed until the stem stays, since one pass takes
        off only the last ending ("välfärdsområdena" -> "välfärdsområden" -> "välfärdsområd")."""
        stemmer = self._stemmers[lang]
        stem = stemmer.stemWord(word)
        while lang == "sv":  # each pass only shortens the word, so this ends
            again = stemmer.stemWord(stem)
            if len(again) >= len(stem):
                return stem
            stem = again
        return stem

    def _question_stems(self, lang: str, word: str) -> tuple[str, ...]:
        """A question word's stem in phrases (its own where some phrase has it, else ``_question_stem``'s), then
        ``_question_stem``'s where that differs: the own stem may only continue phrases ("gränsytan" of
        "specifik för gränsytan") and the other start one ("gränsytan" as "gränsyta")."""
        own = self._stem(lang, word)
        other = self._question_stem(lang, word, own)
        first = own if own in self._known[lang] else other
        return (first,) if other == first else (first, other)

    def _question_stem(self, lang: str, word: str, stem: str | None = None) -> str:
        """A question word's stem, as a phrase has it where the word's own stem (``stem``) starts no phrase:

        - a Swedish stem whose final doubled consonant made single is a phrase's, as the uninflected word
          spells it ("gemensamma" -> "gemensamm" -> "gemensam", like "gemensam"; "programmet" like "program");
        - a Swedish word with an ending Snowball leaves on taken off ("teman", "temana" like "tema";
          "idén" like "idé": ``SWEDISH_ENDINGS``);
        - a long stem or word one letter off a one-word phrase's, and off no other ("gränsytespecifika" like
          "gränsytspecifik"; a typo, "cooperaton" like "cooperation"): at least ``NEAR_STEM`` letters.
        """
        stem = stem or self._stem(lang, word)
        known = self._known[lang]
        if stem in self._phrases[lang]:
            return stem
        if lang == "sv":
            if len(stem) >= 5 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS and stem[:-1] in known:
                return stem[:-1]
            for ending in SWEDISH_ENDINGS:
                base = word[: -len(ending)]
                if (word.endswith(ending) and len(base) >= 3 and base[-1] in _VOWELS
                        and (found := self._stem(lang, base)) in known):
                    return found
        for text, table in ((stem, self._by_length[lang]), (word, self._words_by_length[lang])):
            if len(text) >= NEAR_STEM:
                near = {found for size in (len(text) - 1, len(text), len(text) + 1)
                        for other, found in table.get(size, ()) if one_edit(text, other)}
                if len(near) == 1:
                    return near.pop()
        return stem

    def translate(self, text: str, lang: str) -> Translation:
        """The Finnish terms for the words of ``text`` (a Swedish or English question)."""
        if lang not in LANGUAGES:
            return Translation((), (), ())
        words = _words(text)
        options = [self._question_stems(lang, word.lower()) for word in words]
        stems = [first for first, *_ in options]
        finnish: list[str] = []
        alternatives: list[tuple[str, ...]] = []
        matched: list[str] = []
        unmatched: list[str] = []
        i = 0
        while i < len(stems):
            found, stem = None, stems[i]
            for stem in options[i]:
                if (found := self._match(lang, (stem, *stems[i + 1:]), 0)) is not None:
                    break
            if found is not None and found[0] == 1:
                found = 1, self._closest_words(lang, stem, words[i].lower(), found[1])
            exact = self._exact[lang].get(words[i].lower())
            if exact is not None and (found is None or found[0] == 1):
                found = 1, tuple(dict.fromkeys((*(found[1] if found else ()), *exact)))
            if found is not None:
                size, terms = found[0], _shortest(found[1])
                finnish.extend(terms)
                alternatives.append(terms)
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
        return Translation(tuple(dict.fromkeys(finnish)), tuple(matched), tuple(unmatched), tuple(alternatives))

    def _closest_words(self, lang: str, stem: str, word: str, terms: tuple[str, ...]) -> tuple[str, ...]:
        """The Finnish terms of the one-word phrases of ``stem`` spelt most like ``word`` (the longest common
        beginning): "organisations" takes organisation's terms, not organise's, though all three stem
        alike. ``terms`` (all of the stem's) where one word has the stem or the words tie."""
        forms = self._surface[lang].get(stem, {})
        if len(set(forms.values())) < 2:
            return terms
        shared = {form: len(os.path.commonprefix((form, word))) for form in forms}
        best = max(shared.values())
        return tuple(dict.fromkeys(term for form, found in forms.items() if shared[form] == best for term in found))

    def _match(self, lang: str, stems: Sequence[str], start: int) -> tuple[int, tuple[str, ...]] | None:
        for phrase, finnish in self._phrases[lang].get(stems[start], ()):
            if tuple(stems[start : start + len(phrase)]) == phrase:
                return len(phrase), finnish
        return None

    def _split_compound(self, lang: str, word: str) -> tuple[str, ...]:
        """Finnish terms of a two-part compound whose parts are both glossary words, else ()."""
        single = self._single[lang]
        for cut in range(len(word) - MIN_COMPOUND_PART, MIN_COMPOUND_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            head_terms = single.get(self._stem(lang, head)) or single.get(head)
            if head_terms is None and head.endswith("s"):
                head_terms = single.get(self._stem(lang, head[:-1])) or single.get(head[:-1])
            tail_terms = single.get(self._stem(lang, tail))
            if head_terms and tail_terms:
                return tuple(dict.fromkeys((*head_terms, *tail_terms)))
        return ()


def untranslated(texts: Iterable[str], glossary: Glossary, analyzer: Analyzer) -> list[tuple[str, int]]:
    """The content lemmas of ``texts`` that no glossary phrase leads to, with the number of texts each is
    in, most frequent first: the words a Swedish or English question cannot reach but through the
    embedding model (what to translate next into the glossary or its vocabulary)."""
    covered = {lemma for term in glossary.finnish_terms for lemma in {term.lower(), *analyzer.content_lemmas(term)}}
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(lemma for lemma in analyzer.content_lemmas(text)
                      if lemma not in covered and lemma.isalpha() and len(lemma) > 2)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _rows(path: Path) -> list[tuple[Sequence[str], dict[str, Sequence[str]]]]:
    """One glossary file's rows: the Finnish terms, and the Swedish and English phrases for them."""
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
    return rows


def _shortest(terms: Sequence[str]) -> tuple[str, ...]:
    """A phrase's Finnish terms without those that contain another of them ("pilotti" for "pilotti;
    aluepilotti;pilottialue"): the keyword index holds a compound's parts, so the longer terms reach
    nothing new and would only weigh the one word of the question several times over."""
    return tuple(term for term in terms
                 if not any(other != term and len(other) >= MIN_COMPOUND_PART and other.lower() in term.lower()
                            for other in terms))


def one_edit(a: str, b: str, *, swaps: bool = False) -> bool:
    """Whether ``a`` becomes ``b`` by one letter changed, added or left out, or with ``swaps`` also by two
    neighbouring letters swapped (a slip of the keyboard: "yksely" for "kysely")."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = len(os.path.commonprefix((a, b)))
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (swaps and a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    return a[i:] == b[i + 1 :]


def _words(text: str) -> list[str]:
    """The words of ``text`` that the glossary matches: letters (with inner "-" or ":"), or numbers."""
    return [word for word in _WORD.findall(text) if len(word) > 1 or word.isdigit()]


def _alternatives(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


@functools.lru_cache(maxsize=4)
def load_glossary(path: Path | None = None, vocabulary: Path | None = None) -> Glossary:
    """The glossary with the sources' vocabulary as its second tier (the bundled files where not given,
    as ``Settings.glossary`` and ``Settings.vocabulary`` are by default), read once per process."""
    path, vocabulary = path or GLOSSARY_PATH, vocabulary or VOCABULARY_PATH
    glossary = Glossary.load(path, vocabulary)
    logger.debug("glossary loaded from %s and %s", path, vocabulary)
    return glossary
