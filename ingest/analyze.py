"""Finnish-aware text analysis: the terms the keyword index stores and queries with.

One analyzer serves both ingestion and questions, so a question in any inflection meets the
document's words: "kuntien" -> "kunta", "Lapissa" -> "lappi", and compound parts are indexed
too ("yhdyspintatyöhön" -> "yhdyspintatyö", "yhdyspinta", "pintatyö", "pinta", "työ").
Voikko (with the Finnish dictionary) is preferred; simplemma is the fallback.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ingest import stopwords
from kysy.errors import ConfigError

logger = logging.getLogger(__name__)

_WORD_RE = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?:\n]")
# A segment of Voikko's WORDBASES: "+surface(base)", any further "(...)" after the base annotating a
# derivation that has no surface of its own ("+valmistel(valmistaa)(+la)+u(+u)").
_SEGMENT_RE = re.compile(r"\+([^+(]*)(?:\(([^)]*)\))?(?:\([^)]*\))*")
# A code's letters before its digits ("TE24", "TE2024": the "TE" a question writes as "TE-uudistus").
_CODE_LETTERS = re.compile(r"^([^\W\d_]{2,})\d")
# An acronym: a short word in capitals ("TE" of "TE-palvelut"), kept where its lower-case form is a
# stopword ("te") that would drop it.
ACRONYM_MAX = 4
_CACHE_SIZE = 200_000
PREFIX_LEN = 5
# Letters that Finnish words lack: a word holding one is a foreign name or word, not a typo.
_FOREIGN_LETTERS = "bcfqwxzå"
PREFIX_MARK = "*"
_QUERY_STOP = stopwords.FINNISH | stopwords.QUESTION_WORDS
_FOREIGN_STOP = stopwords.ALL | stopwords.QUESTION_WORDS


@dataclass(frozen=True)
class WordAnalysis:
    """What an analyzer knows about one lower-cased word.

    ``lemmas`` are all distinct base forms (the first is the preferred reading); ``parts`` are
    compound parts and sub-compounds; ``known`` says whether the lemmatiser recognised the word;
    ``plural`` whether every reading is a plural ("tasoilla") and ``case`` the preferred reading's
    case in Voikko's Finnish names ("omanto" is the genitive); ``classes`` and ``numbers`` are the
    word classes ("nimisana", "paikannimi") and numbers ("singular", "plural") of all its readings;
    ``head`` is the last part of the preferred reading when that reading is a compound
    ("lauluperinne" -> "perinne", "maakuntaliitto" -> "liitto"), else empty. Only Voikko knows these five.
    """

    lemmas: tuple[str, ...]
    parts: tuple[str, ...] = ()
    known: bool = True
    plural: bool = False
    case: str = ""
    classes: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    head: str = ""


@dataclass(frozen=True)
class _Token:
    text: str
    sentence_initial: bool


def word_tokens(text: str, *, keep_case: bool = False) -> list[str]:
    """Split ``text`` into lower-cased word tokens (letters and digits, internal hyphens kept); as written
    with ``keep_case``."""
    tokens = (match.group().replace("\u2010", "-").replace("\u2011", "-") for match in _WORD_RE.finditer(text))
    return list(tokens) if keep_case else [token.lower() for token in tokens]


def _scan(text: str) -> Iterator[_Token]:
    last_end = 0
    for match in _WORD_RE.finditer(text):
        gap = text[last_end : match.start()]
        initial = last_end == 0 or bool(_SENTENCE_END.search(gap))
        last_end = match.end()
        yield _Token(match.group().replace("\u2010", "-").replace("\u2011", "-"), initial)


def is_acronym(text: str) -> bool:
    """Whether ``text`` (as written) is an acronym: two to ``ACRONYM_MAX`` letters, all capitals ("TE", "EU")."""
    return 2 <= len(text) <= ACRONYM_MAX and text.isalpha() and text.isupper()


def code_letters(word: str) -> list[str]:
    """The letters a code starts with ("te24" -> ["te"]; "2024" and "h1n1"'s single "h" -> [])."""
    found = _CODE_LETTERS.match(word)
    return [found.group(1).lower()] if found else []


def prefix_stem(word: str) -> str | None:
    """Return the prefix stem of an unrecognised word ("cooperation" -> "coope*"), or None if short."""
    if len(word) < PREFIX_LEN or not word.isalpha():
        return None
    return word[:PREFIX_LEN] + PREFIX_MARK


@dataclass(frozen=True)
class _Member:
    term: str
    surface: str
    bound: bool
    derived: bool = False


def _members(wordbases: str) -> list[list[_Member]]:
    """The hyphen-separated runs of compound members of a Voikko ``WORDBASES`` string."""
    segments = _SEGMENT_RE.findall(wordbases)
    runs: list[list[_Member]] = [[]]
    for i, (surface, base) in enumerate(segments):
        surface = surface.lower()
        # a bare piece before a derivational ending ("järjeste+t+ty(+ty)") belongs to the derivation
        next_derivational = i + 1 < len(segments) and segments[i + 1][1].startswith("+")
        if surface == "-":
            runs.append([])
        elif (base.startswith("+") or (not base and next_derivational)) and runs[-1]:
            last = runs[-1][-1]
            runs[-1][-1] = _Member(last.term, last.surface + surface, bound=False, derived=True)
        else:
            runs[-1].append(_Member(base.replace("=", "").lower() if base else surface, surface, bound=not base))
    return runs


def compound_parts(wordbases: str) -> list[str]:
    """Compound parts and contiguous sub-compounds from a Voikko ``WORDBASES`` string.

    A part is the base form in parentheses (``=`` removed), else the surface segment. A
    derivational piece (paren content starting with ``+``) is not a part of its own: it is glued
    to the part before it, whose derived surface is a part too ("liit(liittää)+to" -> "liittää", "liitto").
    Parts shorter than 3 characters are dropped; sub-compounds never cross a hyphen.
    """
    runs = _members(wordbases)
    parts: list[str] = []
    for member in (member for run in runs for member in run):
        parts.extend(term for term in (member.term, member.surface if member.derived else "") if len(term) >= 3)
    for run in runs:
        for size in range(2, len(run) + 1):
            for start in range(len(run) - size + 1):
                # a sub-compound ending in a bound form ("alueyhteis") is not a word
                if not run[start + size - 1].bound:
                    parts.append("".join(member.surface for member in run[start : start + size]))
    return list(dict.fromkeys(parts))


def compound_head(wordbases: str) -> str:
    """The last part of a compound's ``WORDBASES`` (a derived part as derived: "liitto", not "liittää");
    empty when the word has one part or its last part is shorter than 3 letters."""
    members = [member for run in _members(wordbases) for member in run]
    if len(members) < 2 or members[-1].bound:
        return ""
    last = members[-1]
    head = last.surface if last.derived else last.term
    return head if len(head) >= 3 else ""


class Analyzer(Protocol):
    """Turns text into index terms, query terms, content lemmas and raw tokens."""

    name: str

    def terms(self, text: str) -> list[str]:
        """Index terms for BM25, repeated per occurrence."""
        ...

    def query_terms(self, text: str) -> list[str]:
        """Distinct terms of a question, question words removed."""
        ...

    def content_lemmas(self, text: str) -> set[str]:
        """Lemmas of the content words only (one per word, no parts, no prefix stems)."""
        ...

    def readings(self, text: str) -> dict[str, frozenset[str]]:
        """Each content lemma of ``text`` whose word has other readings, with their lemmas."""
        ...

    def tokens(self, text: str) -> list[str]:
        """Raw lower-cased tokens without stopwords (no lemmatisation)."""
        ...

    def analyze_word(self, word: str) -> WordAnalysis:
        """Analyse one lower-cased word (cached)."""
        ...

    def corrections(self, word: str) -> tuple[str, ...]:
        """Lemmas of the spelling suggestions for an unknown word, best first, each suggestion's readings in
        the analyzer's order (empty if none)."""
        ...

    def spelling(self, word: str, lemma: str) -> str | None:
        """The first spelling suggestion for ``word`` that reads as ``lemma`` (its inflected form), or None."""
        ...


class BaseAnalyzer:
    """Shared term logic; subclasses provide ``_analyze_uncached`` and optionally ``_suggestions``."""

    name = "base"

    def __init__(self, *, known_prefix: bool = False, cache_size: int = _CACHE_SIZE) -> None:
        self.known_prefix = known_prefix
        self._analyze = functools.lru_cache(maxsize=cache_size)(self._analyze_uncached)
        self._suggest_cached = functools.lru_cache(maxsize=cache_size)(self._suggest)
        self._corrections_cached = functools.lru_cache(maxsize=cache_size)(self._suggestions)
        self._spellings_cached = functools.lru_cache(maxsize=cache_size)(self._spellings)

    def _analyze_uncached(self, word: str) -> WordAnalysis:
        raise NotImplementedError

    def _suggestions(self, word: str) -> tuple[str, ...]:
        return ()

    def _spellings(self, word: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return ()

    def _suggest(self, word: str) -> str | None:
        found = self.corrections(word)
        return found[0] if found else None

    def corrections(self, word: str) -> tuple[str, ...]:
        """Lemmas of the spelling suggestions for an unknown word, best first (cached)."""
        return self._corrections_cached(word.lower())

    def spelling(self, word: str, lemma: str) -> str | None:
        """The first spelling suggestion for ``word`` that reads as ``lemma`` (cached), or None."""
        return next((suggestion for suggestion, lemmas in self._spellings_cached(word.lower()) if lemma in lemmas),
                    None)

    def analyze_word(self, word: str) -> WordAnalysis:
        """Analyse one word (lower-cased here), cached per word."""
        return self._analyze(word.lower())

    def terms(self, text: str) -> list[str]:
        """Index terms for BM25, repeated per occurrence (term frequency matters)."""
        return [term for group in self._term_groups(text, stopwords.FINNISH) for term in group]

    def query_terms(self, text: str) -> list[str]:
        """The distinct terms of a question, with question words removed."""
        found = (term for group in self._term_groups(text, _QUERY_STOP) for term in group)
        return list(dict.fromkeys(found))

    def content_lemmas(self, text: str) -> set[str]:
        """The preferred lemma of each content word: no compound parts, prefix stems or stopwords.

        A code joined to a word ("TE2024-uudistuksen") gives the code, its letters ("te") and the word's
        lemma; a word an acronym starts ("TE-palvelujen", "HYTE-rakenne") is one word, and gives its acronym
        too ("te": a stopword as a word of its own).
        """
        lemmas: set[str] = set()
        for scanned in _scan(text):
            token = scanned.text.lower()
            coded = any(ch.isdigit() for ch in token) and "-" in token.strip("-")
            for word in filter(None, token.split("-") if coded else [token]):
                self._add_content_lemma(word, lemmas)
            if not coded and "-" in token.strip("-") and is_acronym(scanned.text.split("-")[0]):
                lemmas.add(token.split("-")[0])
        return lemmas

    def readings(self, text: str) -> dict[str, frozenset[str]]:
        """Each content lemma of ``text`` (``content_lemmas``' preferred reading of a word) whose word the
        analyzer also reads otherwise, with the other readings' lemmas: "vainosta" is "vainonen" (a surname)
        first and "vaino" too, "korkein" "korkki" first and "korkea" too."""
        found: dict[str, set[str]] = {}
        for scanned in _scan(text):
            word = scanned.text.lower()
            if word in _FOREIGN_STOP or any(ch.isdigit() for ch in word):
                continue
            analysis = self._analyze(word)
            if not analysis.known or len(analysis.lemmas) < 2 or analysis.lemmas[0] in _QUERY_STOP:
                continue
            others = {lemma for lemma in analysis.lemmas[1:] if lemma not in _QUERY_STOP and len(lemma) >= 3}
            if others:
                found.setdefault(analysis.lemmas[0], set()).update(others)
        return {lemma: frozenset(others) for lemma, others in found.items()}

    def _add_content_lemma(self, word: str, lemmas: set[str]) -> None:
        if word in _FOREIGN_STOP:
            return
        if any(ch.isdigit() for ch in word):
            lemmas.add(word)
            lemmas.update(code_letters(word))
            return
        analysis = self._analyze(word)
        if analysis.known:
            if analysis.lemmas and analysis.lemmas[0] not in _QUERY_STOP:
                lemmas.add(analysis.lemmas[0])
        else:
            lemmas.add(word)

    def tokens(self, text: str) -> list[str]:
        """Raw lower-cased word tokens without stopwords: the unlemmatised baseline."""
        return [word for word in word_tokens(text) if word not in stopwords.ALL]

    def _term_groups(self, text: str, stop: frozenset[str]) -> list[list[str]]:
        scanned = list(_scan(text))
        analyses = [self._analyze(token.text.lower()) for token in scanned]
        known = sum(1 for analysis in analyses if analysis.known)
        # Spelling suggestions only where the text reads as Finnish (or is a single word),
        # so Swedish and English words are not "corrected" into Finnish ones.
        may_suggest = known * 2 >= len(scanned) or len(scanned) == 1
        # Acronyms only in a text that is not itself written in capitals (a slide's "ETELÄ-KARJALA JA LAPPI")
        acronyms = sum(1 for token in scanned if token.text.isupper()) * 2 <= len(scanned) or len(scanned) == 1
        groups = []
        for token, analysis in zip(scanned, analyses, strict=True):
            group = self._word_terms(token, analysis, stop, may_suggest, acronyms)
            if group:
                groups.append(group)
        return groups

    def _word_terms(self, token: _Token, analysis: WordAnalysis, stop: frozenset[str], may_suggest: bool,
                    acronyms: bool = True) -> list[str]:
        word = token.text.lower()
        acronym = acronyms and is_acronym(token.text)
        if any(ch.isdigit() for ch in word):
            # a code with a word attached ("te24-uudistuksen") is indexed whole and by its pieces; a code
            # by its letters too ("te24": "te", which "TE-uudistus" asks for)
            if "-" in word.strip("-"):
                return self._hyphenated_terms(token.text, stop, may_suggest, acronyms)
            return [word, *code_letters(word)]
        if analysis.known:
            return self._known_terms(word, analysis, stop) or ([word] if acronym else [])
        if word in stopwords.ALL or word in stop:
            return [word] if acronym else []
        if "-" in word:
            return self._hyphenated_terms(token.text, stop, may_suggest, acronyms)
        terms = [word]
        stem = prefix_stem(word)
        if stem:
            terms.append(stem)
        if may_suggest and _looks_misspelt(token):
            suggestion = self._suggest_cached(word)
            if suggestion and suggestion not in stop:
                terms.append(suggestion)
        return list(dict.fromkeys(terms))

    def _known_terms(self, word: str, analysis: WordAnalysis, stop: frozenset[str]) -> list[str]:
        if word in stop or any(lemma in stop for lemma in analysis.lemmas[:1]):
            return []
        terms = [lemma for lemma in analysis.lemmas if lemma not in stop]
        terms.extend(part for part in analysis.parts if part not in stop)
        if self.known_prefix and terms:
            stem = prefix_stem(terms[0])
            if stem:
                terms.append(stem)
        return list(dict.fromkeys(terms))

    def _hyphenated_terms(self, text: str, stop: frozenset[str], may_suggest: bool, acronyms: bool) -> list[str]:
        terms = [text.lower()]
        for piece in text.split("-"):
            token = _Token(piece, sentence_initial=False)
            terms.extend(self._word_terms(token, self._analyze(piece.lower()), stop, may_suggest, acronyms))
        return list(dict.fromkeys(terms))


def misspelt_words(text: str, analyzer: Analyzer, *, loanwords: bool = False) -> list[str]:
    """The lower-cased words of ``text`` that the analyzer does not know and that look like typos;
    with ``loanwords`` a lower-case word holding a letter Finnish words lack ("foorumi") may be one too."""
    return [
        token.text.lower() for token in _scan(text)
        if _looks_misspelt(token, loanwords=loanwords) and not analyzer.analyze_word(token.text).known
    ]


def misspelt_names(text: str, analyzer: Analyzer) -> list[str]:
    """The lower-cased capitalised and hyphenated words of ``text`` (a hyphenated one whole) that the
    analyzer does not know and that may be misspelt Finnish names ("Etelä-Kajralassa", "hyte-kreroin");
    ``misspelt_words`` leaves them out. Whether one is misspelt is the caller's to decide (a suggestion
    the sources hold)."""
    found = []
    for token in _scan(text):
        word, lower = token.text, token.text.lower()
        letters = lower.replace("-", "")
        if not (word[:1].isupper() or "-" in word) or len(letters) < PREFIX_LEN or not letters.isalpha():
            continue
        if not any(ch in _FOREIGN_LETTERS for ch in lower) and not analyzer.analyze_word(lower).known:
            found.append(lower)
    return found


def _looks_misspelt(token: _Token, *, loanwords: bool = False) -> bool:
    """A plausible misspelt Finnish word: alphabetic, long enough, not a capitalised name; a word with a
    letter Finnish words lack is a foreign word unless ``loanwords`` and it is all lower case."""
    text = token.text
    if len(text) < PREFIX_LEN or not text.isalpha():
        return False
    if any(ch.isupper() for ch in text) and not (token.sentence_initial and text[1:].islower()):
        return False
    return (loanwords and text.islower()) or not any(ch in _FOREIGN_LETTERS for ch in text.lower())


class VoikkoAnalyzer(BaseAnalyzer):
    """Analysis with Voikko: all base forms, compound parts, spelling suggestions for typos."""

    name = "voikko"

    def __init__(self, *, known_prefix: bool = False, cache_size: int = _CACHE_SIZE) -> None:
        import libvoikko

        self._voikko = libvoikko.Voikko("fi")
        self._lock = threading.Lock()  # a Voikko handle is not thread-safe
        super().__init__(known_prefix=known_prefix, cache_size=cache_size)

    def _raw_analyses(self, word: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._voikko.analyze(word))

    def _analyze_uncached(self, word: str) -> WordAnalysis:
        analyses = self._raw_analyses(word)
        if not analyses:
            return WordAnalysis(lemmas=(word,), known=False)
        # the reading with the fewest compound boundaries first ("kuuluu": kuulua, not kuu+luu)
        analyses.sort(key=lambda item: str(item.get("STRUCTURE", "")).count("="))
        lemmas = [str(item.get("BASEFORM", word)).lower() for item in analyses]
        parts: list[str] = []
        for item in analyses:
            parts.extend(compound_parts(str(item.get("WORDBASES", ""))))
        lemma_set = set(lemmas)
        parts = [part for part in parts if part not in lemma_set]
        plural = all(item.get("NUMBER") == "plural" for item in analyses)
        case = str(analyses[0].get("SIJAMUOTO", ""))
        classes = tuple(dict.fromkeys(str(item.get("CLASS", "")) for item in analyses))
        numbers = tuple(dict.fromkeys(str(item["NUMBER"]) for item in analyses if item.get("NUMBER")))
        head = compound_head(str(analyses[0].get("WORDBASES", "")))
        return WordAnalysis(
            tuple(dict.fromkeys(lemmas)), tuple(dict.fromkeys(parts)), True, plural, case, classes, numbers, head
        )

    def _spellings(self, word: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each known spelling suggestion (no spaces) with its readings' lemmas, best first."""
        with self._lock:
            suggestions = list(self._voikko.suggest(word))
        found = []
        for suggestion in suggestions:
            if " " in suggestion:
                continue
            analysis = self._analyze(suggestion.lower())
            if analysis.known:
                found.append((suggestion.lower(), analysis.lemmas))
        return tuple(found)

    def _suggestions(self, word: str) -> tuple[str, ...]:
        # every reading of each suggestion: "kerroin" is "kertoa" and "kerroin"
        return tuple(dict.fromkeys(lemma for _, lemmas in self._spellings_cached(word) for lemma in lemmas))


class SimplemmaAnalyzer(BaseAnalyzer):
    """Fallback analysis with simplemma: one lemma per word, no compound splitting."""

    name = "simplemma"

    def __init__(self, *, known_prefix: bool = False, cache_size: int = _CACHE_SIZE) -> None:
        import simplemma

        self._simplemma = simplemma
        super().__init__(known_prefix=known_prefix, cache_size=cache_size)

    def _analyze_uncached(self, word: str) -> WordAnalysis:
        if not self._simplemma.is_known(word, lang="fi"):
            lemma = self._simplemma.lemmatize(word, lang="fi").lower()
            if lemma == word or len(lemma) < 3:
                return WordAnalysis(lemmas=(word,), known=False)
            return WordAnalysis(lemmas=(lemma,), known=True)
        return WordAnalysis(lemmas=(self._simplemma.lemmatize(word, lang="fi").lower(),), known=True)


@functools.lru_cache(maxsize=1)
def voikko_available() -> bool:
    """Whether libvoikko and its Finnish dictionary load on this machine."""
    try:
        import libvoikko

        handle = libvoikko.Voikko("fi")
        ok = bool(handle.analyze("kunta"))
        handle.terminate()
        return ok
    except Exception as exc:  # missing library, missing dictionary, broken install
        logger.debug("Voikko unavailable: %s", exc)
        return False


_warned = threading.Event()


def make_analyzer(kind: str = "auto") -> Analyzer:
    """Build the analyzer named by ``kind``: "auto" (Voikko if it loads, else simplemma), "voikko" or "simplemma".

    Raises:
        ConfigError: ``kind`` is unknown, or "voikko" was asked for and cannot load.
    """
    if kind == "simplemma":
        return SimplemmaAnalyzer()
    if kind == "voikko":
        if not voikko_available():
            raise ConfigError("analyzer 'voikko' needs libvoikko with the Finnish dictionary (voikko-fi); "
                              "install it or set KYSY_ANALYZER=simplemma")
        return VoikkoAnalyzer()
    if kind == "auto":
        if voikko_available():
            return VoikkoAnalyzer()
        if not _warned.is_set():
            _warned.set()
            logger.warning("Voikko with a Finnish dictionary is not available; using simplemma "
                           "(no compound splitting, weaker Finnish keyword search)")
        return SimplemmaAnalyzer()
    raise ConfigError(f"analyzer must be one of auto, voikko, simplemma; got {kind!r}")
