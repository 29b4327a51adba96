"""Rewordings of a question that must not change its answer's source: the robustness property.

For each answerable standalone question of the set, up to four variants:

- *number*: a noun of the question in the other number, same case ("pilotin" -> "pilottien");
- *synonym*: a word replaced by a synonym of ``synonyms.txt`` in the same case and number
  ("hankkeen" -> "projektin");
- *typo*: two letters of the question's longest word swapped ("rahoittavat" -> "rahoitatvat");
- *question word*: "Kuka" <-> "Ketkä", "Mikä" <-> "Mitkä" (the verb's number left as it is).

Inflected forms are generated and checked with Voikko: candidate forms are built from the word's
stems and Finnish case endings, and only a form that Voikko reads as the wanted lemma, case and
number is used. A question with no such word gets no variant of that kind.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.query import SYNONYMS_PATH, load_synonyms
from assistant.service import Assistant
from eval.invariance import first_citation, standalone_questions
from eval.questionset import Question
from ingest import stopwords

# Case endings by Voikko's case name, singular and plural; candidates only: Voikko decides.
ENDINGS = {
    "nimento": (("",), ("t", "et")),
    "omanto": (("n",), ("en", "den", "ten", "iden", "itten", "jen", "ien")),
    "osanto": (("a", "ä", "ta", "tä", "tta", "ttä"), ("a", "ä", "ia", "iä", "ja", "jä", "ita", "itä")),
    "sisaolento": (("ssa", "ssä"), ("issa", "issä", "ssa", "ssä")),
    "sisaeronto": (("sta", "stä"), ("ista", "istä", "sta", "stä")),
    "sisatulento": (("an", "en", "in", "on", "un", "yn", "än", "ön", "hin", "seen", "han", "hen", "hon", "hun"),
                    ("iin", "ihin", "isiin", "in", "hin")),
    "ulkoolento": (("lla", "llä"), ("illa", "illä", "lla", "llä")),
    "ulkoeronto": (("lta", "ltä"), ("ilta", "iltä", "lta", "ltä")),
    "ulkotulento": (("lle",), ("ille", "lle")),
    "olento": (("na", "nä"), ("ina", "inä", "na", "nä")),
    "tulento": (("ksi",), ("iksi", "ksi")),
}
QUESTION_WORDS = {"kuka": "ketkä", "ketkä": "kuka", "mikä": "mitkä", "mitkä": "mikä"}
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_DOUBLE = re.compile(r"(kk|pp|tt)(?=[^kpt]*$)")
_SINGLE = re.compile(r"([aeiouyäö])([kpt])([aeiouyäö][^aeiouyäö]*)$")


@dataclass(frozen=True)
class Variant:
    """A reworded question of one kind, and whether its first citation stayed."""

    question_id: str
    kind: str
    text: str
    expected: tuple[str, int | None] | None
    got: tuple[str, int | None] | None

    @property
    def holds(self) -> bool:
        """Whether the reworded question is answered from the same file and page."""
        return self.expected == self.got


class Inflector:
    """Forms of a lemma in a wanted case and number, generated from stems and checked with Voikko."""

    def __init__(self) -> None:
        import libvoikko

        self._voikko = libvoikko.Voikko("fi")

    def analyses(self, word: str) -> list[dict[str, Any]]:
        """Voikko's readings of ``word``."""
        return list(self._voikko.analyze(word))

    def form(self, lemma: str, case: str, number: str, hint: str = "") -> str | None:
        """A form of ``lemma`` in ``case`` and ``number`` (``hint``: an inflected form to take stems from)."""
        endings = ENDINGS.get(case)
        if endings is None:
            return None
        stems = _stems(lemma) | _stems(hint)
        for stem in sorted(stems, key=lambda s: (-len(s), s)):
            for ending in endings[number == "plural"]:
                candidate = stem + ending
                if any(str(a.get("BASEFORM", "")).lower() == lemma and a.get("SIJAMUOTO") == case
                       and a.get("NUMBER") == number for a in self.analyses(candidate)):
                    return candidate
        return None


def _stems(word: str) -> set[str]:
    word = word.lower()
    stems = {word[: len(word) - k] for k in range(0, 6) if len(word) - k >= 2}
    for stem in list(stems):
        stems.add(_DOUBLE.sub(lambda m: m.group(1)[0], stem))
        stems.add(_SINGLE.sub(lambda m: m.group(1) + m.group(2) * 2 + m.group(3), stem))
    return stems


def _replace(question: str, start: int, end: int, word: str) -> str:
    original = question[start:end]
    if original[:1].isupper():
        word = word[:1].upper() + word[1:]
    return question[:start] + word + question[end:]


def _common_words(question: str) -> list[re.Match[str]]:
    """The words a variant may change, last first: no names, compounds with hyphens or stopwords."""
    skip = stopwords.ALL | stopwords.QUESTION_WORDS
    words = [m for m in _WORD.finditer(question) if m.group().islower() and "-" not in m.group() and m.group() not in skip]
    return words[::-1]


def number_variant(question: str, inflector: Inflector) -> str | None:
    """The question with its last common noun in the other number, or None."""
    for match in _common_words(question):
        for reading in inflector.analyses(match.group()):
            if reading.get("CLASS") != "nimisana" or reading.get("NUMBER") not in ("singular", "plural"):
                continue
            other = "plural" if reading["NUMBER"] == "singular" else "singular"
            form = inflector.form(str(reading["BASEFORM"]).lower(), str(reading.get("SIJAMUOTO")), other,
                                  match.group())
            if form:
                return _replace(question, match.start(), match.end(), form)
    return None


def synonym_variant(question: str, inflector: Inflector, synonyms: dict[str, frozenset[str]]) -> str | None:
    """The question with a word replaced by a synonym in the same case and number, or None."""
    for match in _common_words(question):
        for reading in inflector.analyses(match.group()):
            lemma = str(reading.get("BASEFORM", "")).lower()
            for synonym in sorted(synonyms.get(lemma, ())):
                form = inflector.form(synonym, str(reading.get("SIJAMUOTO")), str(reading.get("NUMBER")))
                if form:
                    return _replace(question, match.start(), match.end(), form)
    return None


def typo_variant(question: str) -> str | None:
    """Two inner letters of the longest word swapped (the middle ones), or None for short words."""
    words = sorted(_WORD.finditer(question), key=lambda m: (-len(m.group()), m.start()))
    if not words or len(words[0].group()) < 6:
        return None
    match = words[0]
    word = match.group()
    i = len(word) // 2
    if word[i] == word[i + 1]:
        i -= 1
    swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return question[: match.start()] + swapped + question[match.end() :]


def question_word_variant(question: str) -> str | None:
    """"Kuka" <-> "Ketkä", "Mikä" <-> "Mitkä" as the question's first word, or None."""
    match = _WORD.search(question)
    if match is None or match.group().lower() not in QUESTION_WORDS:
        return None
    return _replace(question, match.start(), match.end(), QUESTION_WORDS[match.group().lower()])


def variants_of(question: str, inflector: Inflector, synonyms: dict[str, frozenset[str]]) -> dict[str, str]:
    """Every variant kind that applies to ``question``, each different from it."""
    found = {
        "number": number_variant(question, inflector),
        "synonym": synonym_variant(question, inflector, synonyms),
        "typo": typo_variant(question),
        "question word": question_word_variant(question),
    }
    return {kind: text for kind, text in found.items() if text and text != question}


def wording_robustness(assistant: Assistant, questions: Sequence[Question],
                       progress: Callable[[str, int, int], None] | None = None) -> list[Variant]:
    """Ask every answerable standalone Finnish question and its variants; compare first citations."""
    report = progress or (lambda stage, advance, total: None)
    inflector = Inflector()
    synonyms = load_synonyms(SYNONYMS_PATH)
    targets = [q for q in standalone_questions(questions) if q.type not in ("english", "swedish")]
    results = []
    for question in targets:
        expected = first_citation(assistant.ask(question.question))
        for kind, text in variants_of(question.question, inflector, synonyms).items():
            results.append(Variant(question.id, kind, text, expected, first_citation(assistant.ask(text))))
        report("variants", 1, len(targets))
    return results


def summary(variants: Sequence[Variant]) -> dict[str, object]:
    """The share kept, overall and per kind, and the variants that changed source."""
    kinds = sorted({v.kind for v in variants})
    return {
        "variants": len(variants),
        "share": round(sum(v.holds for v in variants) / len(variants), 4) if variants else 1.0,
        "by_kind": {kind: round(sum(v.holds for v in variants if v.kind == kind)
                                / max(1, sum(v.kind == kind for v in variants)), 4) for kind in kinds},
        "failures": [{"id": v.question_id, "kind": v.kind, "text": v.text, "expected": v.expected, "got": v.got}
                     for v in variants if not v.holds],
    }


def sample(variants: Sequence[Variant], size: int, seed: int = 0) -> list[Variant]:
    """A deterministic sample of ``variants`` (for a quick look)."""
    return random.Random(seed).sample(list(variants), min(size, len(variants)))
