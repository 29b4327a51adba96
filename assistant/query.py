"""A question prepared once for the retrievers, the answerer and the refusal decision.

From the question's text come its keyword terms, its content lemmas (what an answer must cover),
the names it mentions, and its vector. Three things widen what the words can meet:

- a misspelt word the index does not hold is corrected to the first spelling suggestion it holds;
- a Swedish or English question gets the Finnish words of the glossary (``assistant/translate.py``);
- a lemma's synonyms (``synonyms.txt``: "hanke" ~ "projekti") count as the lemma:
  an item holding a synonym covers it, and synonyms of one another are one concept, weighed once
  (``concept_weights``), so a question is not worth more for having a word with many synonyms.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.entities import is_only_place_name
from assistant.matcher import stem
from assistant.translate import Glossary, Translation, one_edit
from ingest.analyze import Analyzer, misspelt_names, misspelt_words
from ingest.embed import Embedder
from ingest.keyword import KeywordIndex
from ingest.language import detect_language
from kysy.errors import ConfigError

SYNONYMS_PATH = Path(__file__).with_name("synonyms.txt")
# Finnish case and possessive endings, longest first, tried on words the analyzer does not know.
CASE_ENDINGS = (
    "illa", "illä", "issa", "issä", "ista", "istä", "ille", "ilta", "iltä", "lla", "llä", "lta", "ltä",
    "lle", "ssa", "ssä", "sta", "stä", "ksi", "han", "hen", "hin", "hon", "hun", "yyn", "ään", "aan",
    "een", "iin", "oon", "uun", "öön", "na", "nä", "ta", "tä", "un", "in", "en", "n", "a", "ä",
)
MIN_STEM = 3
# The shortest part of a one-word compound that a correction may rest on (the index holds both ends).
MIN_PART = 4
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?:\n]")


@dataclass(frozen=True)
class Query:
    """A question prepared once for every retriever and the answerer.

    ``terms`` are the keyword index terms, ``lemmas`` the content lemmas (one per concept) the
    answerer and the refusal decision weigh, ``synonyms`` the other forms each of them may take;
    for a Swedish or English question they include the Finnish words the glossary gives
    (``finnish``). ``names`` are the lemmas of the places, organisations and people it names.
    """

    text: str
    vector: np.ndarray
    terms: tuple[str, ...]
    lemmas: frozenset[str] = frozenset()
    language: str = "fi"
    finnish: str = ""
    names: frozenset[str] = frozenset()
    synonyms: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)

    def variants(self, lemma: str) -> frozenset[str]:
        """The lemma and its synonyms."""
        forms = self._variants.get(lemma)
        return forms if forms is not None else frozenset({lemma, *self.synonyms.get(lemma, ())})

    @functools.cached_property
    def _variants(self) -> dict[str, frozenset[str]]:
        return {lemma: frozenset({lemma, *self.synonyms.get(lemma, ())}) for lemma in self.lemmas}


def question_names(text: str, analyzer: Analyzer) -> set[str]:
    """The lemmas of the words capitalised inside a sentence of the question (not at its start):
    places, organisations, people; and of the words typed in lower case, wherever they stand, that the
    analyzer reads as nothing but a place name ("mikä on lapin väestöpohja?"). Codes ("TE2024") are not
    names."""
    names: set[str] = set()
    last_end = 0
    for match in _WORD.finditer(text):
        word, gap = match.group(), text[last_end : match.start()]
        initial = last_end == 0 or bool(_SENTENCE_END.search(gap))
        last_end = match.end()
        if word.islower() and is_only_place_name(word, analyzer):
            names |= analyzer.content_lemmas(word)
            continue
        if initial:
            continue
        pieces = word.split("-") if any(ch.isdigit() for ch in word) else [word]
        for piece in pieces:
            if piece[:1].isupper() and not any(ch.isdigit() for ch in piece):
                names |= analyzer.content_lemmas(piece)
    return names


def _with_corrections(text: str, corrected: Mapping[str, str]) -> str:
    """``text`` with each misspelt word (``QueryBuilder._corrections``) replaced by its correction."""
    if not corrected:
        return text
    return _WORD.sub(lambda match: _cased(match.group(), corrected.get(match.group().lower(), match.group())), text)


def _cased(original: str, replacement: str) -> str:
    """``replacement`` with the capitals of ``original``'s hyphen-separated parts ("Etelä-Kajralassa" ->
    "Etelä-Karjalassa")."""
    parts, cases = replacement.split("-"), original.split("-")
    if len(parts) != len(cases):
        cases = cases[:1]  # parts joined or split: only the first capital carries over
    return "-".join(part[:1].upper() + part[1:] if case[:1].isupper() else part
                    for part, case in itertools.zip_longest(parts, cases, fillvalue=""))


def concept_weights(query: Query, keyword: KeywordIndex) -> dict[str, float]:
    """idf weight of each of the question's concepts: that of the question's own word when the index
    holds it, else that of its most common synonym there, else that of the words the matcher reads as it
    (``held_frequency``; a lemma nothing holds weighs as a one-chunk term).

    In the lemmas' sorted order: every share summed over these weights then adds in the same order in every
    process (a set's order follows the process's string hashing, and a sum's last bit its order).
    """
    indexed = keyword.document_frequency
    weights = {}
    for lemma in sorted(query.lemmas):
        held = [keyword.idf(form) for form in query.synonyms.get(lemma, ()) if indexed(form)]
        weights[lemma] = (keyword.idf(lemma) if indexed(lemma) else min(held) if held
                          else keyword.idf_of(held_frequency(lemma, keyword)))
    return weights


def held_frequency(form: str, keyword: KeywordIndex) -> int:
    """How many chunks hold ``form``, or where none holds it whole, a word the matcher reads as it (its stem
    rule, ``assistant/matcher.py``): the index keeps a word Voikko does not know as written
    ("hyte-koordinaattorien"), and that word covers the question's "hyte-koordinaattori" in every item."""
    found = keyword.document_frequency(form)
    prefix = stem(form) if not found else None
    return keyword.prefix_frequency(prefix) if prefix else found


def holds(query: Query, lemma: str, terms: Collection[str]) -> bool:
    """Whether ``terms`` hold the lemma or one of its synonyms (exact forms)."""
    return any(form in terms for form in query.variants(lemma))


class QueryBuilder:
    """Builds ``Query`` objects against one keyword index (which words the sources use)."""

    def __init__(
        self,
        keyword: KeywordIndex,
        embedder: Embedder,
        analyzer: Analyzer,
        glossary: Glossary,
        synonyms: Mapping[str, frozenset[str]],
    ) -> None:
        self.keyword = keyword
        self.embedder = embedder
        self.analyzer = analyzer
        self.glossary = glossary
        self._synonyms = synonyms

    def build(self, text: str, language: str | None = None, *, embed: bool = True) -> Query:
        """Analyse and embed ``text``; ``language`` is detected when not given.

        ``embed=False`` is for keyword-only uses: the vector is then zeros.
        """
        language = language or detect_language(text, self.analyzer, self.glossary.languages_of)
        indexed = self.keyword.document_frequency
        translation = self.glossary.translate(text, language)
        finnish = translation.text
        names = {lemma for name in translation.names for lemma in self.analyzer.content_lemmas(name)}
        terms = self.analyzer.query_terms(text)
        lemmas = self.analyzer.content_lemmas(text)
        corrected: dict[str, str] = {}
        if language == "fi":
            corrected = self._corrections(text)
            fixed_terms = [term for fixed in corrected.values() for term in self.analyzer.query_terms(fixed)]
            terms = list(dict.fromkeys([*terms, *corrected.values(), *fixed_terms]))  # with its compound parts
            lemmas = {corrected.get(lemma, lemma) for lemma in lemmas} | set(corrected.values())
        genitives: dict[str, str] = {}
        if finnish:
            # the question's own words count only where the sources use them (names such as "Hyvil"),
            # a Swedish genitive as its name ("Kuntaliittos" -> "kuntaliitto")
            if language == "sv":
                genitives = {word: word[:-1] for word in {*terms, *lemmas}
                             if word.endswith("s") and not indexed(word) and indexed(word[:-1])}
                terms = [genitives.get(term, term) for term in terms]
                lemmas = {genitives.get(lemma, lemma) for lemma in lemmas}
            terms = [term for term in terms if indexed(term) > 0]
            terms = list(dict.fromkeys([*terms, *self.analyzer.query_terms(finnish)]))
            lemmas = {lemma for lemma in lemmas if indexed(lemma) > 0} | self.analyzer.content_lemmas(finnish)
        base = {**genitives, **self._base_forms(lemmas)}
        lemmas = {base.get(lemma, lemma) for lemma in lemmas}
        asked_names = (corrected.get(name, name) for name in question_names(text, self.analyzer))
        names |= {base.get(name, name) for name in asked_names} & lemmas
        alternatives = self._alternatives(translation)
        # a word read otherwise too is its concept in either reading ("vainosta": "vainonen" first, "vaino")
        for source in dict.fromkeys((text, finnish)):
            for lemma, others in self.analyzer.readings(source).items():
                if lemma in lemmas:
                    alternatives[lemma] = alternatives.get(lemma, frozenset()) | others
        concepts = self._concepts(lemmas, alternatives)
        # the keyword side searches a synonym only for a word the sources never use
        extra = {form for lemma, forms in concepts.items() if not indexed(lemma) for form in forms}
        terms = list(dict.fromkeys([*terms, *base.values(), *sorted(extra)]))
        # the multilingual model embeds the question as asked (glossary words appended made it worse),
        # with its misspelt words in their corrected form
        asked = _with_corrections(text, {word: self._spelled(word, fixed) for word, fixed in corrected.items()})
        vector = self.embedder.embed_queries([asked])[0] if embed else np.zeros(self.embedder.dim, dtype=np.float32)
        return Query(text, vector, tuple(terms), frozenset(concepts), language, finnish, frozenset(names), concepts)

    def _concepts(self, lemmas: Collection[str],
                  alternatives: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        """One entry per concept: a lemma of the question and its synonyms and alternatives, merged."""
        concepts: dict[str, frozenset[str]] = {}
        for lemma in sorted(lemmas):
            if any(lemma in forms for forms in concepts.values()):
                continue
            concepts[lemma] = self._synonyms.get(lemma, frozenset()) | alternatives.get(lemma, frozenset())
        return concepts

    def _alternatives(self, translation: Translation) -> dict[str, frozenset[str]]:
        """The Finnish lemmas that are alternatives for one word of a Swedish or English question, each
        mapped to the others: "continue" gives "jatkua" and "jatko", one concept and not two, so that an
        item using one of them does not miss half of what was asked. A term of several words ("hyvinvoinnin
        ja terveyden edistäminen") names several concepts and is left out."""
        found: dict[str, set[str]] = {}
        for terms in translation.alternatives:
            single = {lemma for term in terms if len(lemmas := self.analyzer.content_lemmas(term)) == 1
                      for lemma in lemmas}
            for lemma in single if len(single) > 1 else ():
                found.setdefault(lemma, set()).update(single - {lemma})
        return {lemma: frozenset(others) for lemma, others in found.items()}

    def _base_forms(self, lemmas: Collection[str]) -> dict[str, str]:
        """Inflected words the analyzer does not know, mapped to the base form the index holds.

        Voikko knows few surnames: "Jurmun" stays "jurmun" while the sources' "Jurmu" is indexed as
        "jurmu"; a case ending whose removal gives an indexed word is taken off. Nor does it know every
        hyphenated word: "hyte-koordinaattoreita" is read as its head and its last piece's lemma,
        "hyte-koordinaattori", as "sote-palveluiden" is "sote-palvelu" (and as its misspelling
        "hyte-koordianattoreita" is corrected), so that the sources' "hyte-koordinaattorien" covers it.
        """
        indexed = self.keyword.document_frequency
        found = {}
        for lemma in lemmas:
            if indexed(lemma):
                continue
            if "-" in lemma.strip("-") and not any(ch.isdigit() for ch in lemma):
                head, _, last = lemma.rpartition("-")
                analysis = self.analyzer.analyze_word(last)
                if analysis.known and analysis.lemmas and last not in analysis.lemmas:
                    found[lemma] = f"{head}-{analysis.lemmas[0]}"
                continue
            if not lemma.isalpha():
                continue
            for ending in CASE_ENDINGS:
                stem = lemma[: -len(ending)]
                if lemma.endswith(ending) and len(stem) >= MIN_STEM and indexed(stem):
                    found[lemma] = stem
                    break
        return found

    def _corrections(self, text: str) -> dict[str, str]:
        """Each misspelt word or name the index does not hold, mapped to the first spelling suggestion it
        does hold; the question is then read with the suggestion in its place.

        The analyzer's own first suggestion may be a rare word ("rahottajat" -> "rehottaja");
        the sources' vocabulary decides which suggestion was meant ("rahoittaja"): the first suggestion the
        index holds, else the first compound the sources never use whole but whose first and last parts
        they use ("teemakokoanisuudet" -> "teemakokonaisuus": "teema", "kokonaisuus"; "maakuntailitoilla" ->
        "maakuntaliitto": "maakunta", "liitto"), so that "yhdyspnitojen" is "yhdyspinta", which the sources
        use, and not the first suggestion "yhdyspito", whose parts they only happen to use. A loanword's
        letters (f, b, c, ...) do not make a lower-case word a foreign name ("yhdyspintfaoorumit"). A name
        is read whole ("Etelä-Kajralassa" -> "etelä-karjala"), as its lemma is, or else by its misspelt
        last part ("hyte-kreroin" -> "hyte-kerroin", "hyte-yksely" -> "hyte-kysely") when the index holds
        the whole it gives or that part.
        """
        indexed = self.keyword.document_frequency
        fixed = {}
        words = [*misspelt_words(text, self.analyzer, loanwords=True), *misspelt_names(text, self.analyzer)]
        for word in dict.fromkeys(words):
            if indexed(word) == 0:
                suggestions = self.analyzer.corrections(word)
                found = (next((c for c in suggestions if indexed(c) > 0), None)
                         or next((c for c in suggestions if self._holds(c)), None))
                if found is None and "-" in word.strip("-"):
                    found = self._hyphenated(word)
                if found is not None:
                    fixed[word] = found
        return fixed

    def _spelled(self, word: str, lemma: str) -> str:
        """How the question meant to write ``word``, corrected to ``lemma``: the suggestion read as the
        lemma ("hyvinvoinitalueiden" -> "hyvinvointialueiden"; "hyte-kreroin" -> "hyte-kerroin"), or the
        lemma itself."""
        found = self.analyzer.spelling(word, lemma)
        if found is None and "-" in word.strip("-") and "-" in lemma:
            *head, last = word.split("-")
            spelled = self.analyzer.spelling(last, lemma.rsplit("-", 1)[-1])
            found = "-".join([*head, spelled]) if spelled else None
        return found or lemma

    def _holds(self, lemma: str) -> bool:
        """Whether the index holds ``lemma``, or a part that begins the one-word compound it is and a part that
        ends it (the analyzer's parts, of every reading: "maakuntaliitto" begins with "maakunta" and ends with
        "liitto"; parts of at least ``MIN_PART`` letters: "e-uudistus" is not "e" and "uudistus")."""
        indexed = self.keyword.document_frequency
        if indexed(lemma) > 0:
            return True
        if "-" in lemma:
            return False
        parts = [part for part in self.analyzer.analyze_word(lemma).parts
                 if MIN_PART <= len(part) < len(lemma) and indexed(part) > 0]
        return (any(lemma.startswith(part) for part in parts)
                and any(lemma.endswith(part) for part in parts if not lemma.startswith(part)))

    def _hyphenated(self, word: str) -> str | None:
        """A hyphenated word whose last part alone is misspelt, with that part read as its first suggestion
        that makes a whole the index holds ("hyte-kreroista" -> "hyte-kerroin"), else as its first suggestion
        the index holds alone and one slip away from what was typed (``one_edit``: "hyte-yksely" ->
        "hyte-kysely", the sources say "kysely"); else None."""
        indexed = self.keyword.document_frequency
        *head, last = word.split("-")
        heard = all(part and (indexed(part) > 0 or self.analyzer.analyze_word(part).known) for part in head)
        if not heard or self.analyzer.analyze_word(last).known:
            return None
        corrections = self.analyzer.corrections(last)
        whole = next((lemma for lemma in corrections if indexed("-".join([*head, lemma])) > 0), None)
        if whole is None:  # a suggestion the index holds alone, one slip from what was typed
            whole = next((lemma for lemma in corrections if indexed(lemma) > 0
                          and one_edit(last, self.analyzer.spelling(last, lemma) or lemma, swaps=True)), None)
        return None if whole is None else "-".join([*head, whole])


@functools.lru_cache(maxsize=4)
def load_synonyms(path: Path = SYNONYMS_PATH) -> dict[str, frozenset[str]]:
    """Lemma -> its synonyms, from a file of one synonym set per line.

    Raises:
        ConfigError: the file cannot be read.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the synonym list {path}: {exc}") from exc
    table: dict[str, set[str]] = {}
    for line in lines:
        words = {word.lower() for word in line.split("#", 1)[0].split()}
        for word in words:
            table.setdefault(word, set()).update(words - {word})
    return {lemma: frozenset(others) for lemma, others in table.items() if others}
