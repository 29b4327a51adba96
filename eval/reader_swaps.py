"""Near misses made from answerable questions: a name or number of the question swapped for another.

SQuAD2's adversarial unanswerable questions are few in squad2fi-qa's training articles (348, from two
articles), and one of their commonest kinds (about a fifth, in SQuAD2's own analysis) is the entity
swap: the question asks about the paragraph's fact with another name, year or number put in, so the
sentence that looks like its answer is about something else. The same near miss is the project's own
("Montako kuntaa Lapin pilotissa on mukana?" where only Etelä-Karjala's count is given). This module
makes such questions from the answerable training questions: a name or number of the question that the
right item (or its heading) holds is replaced by another of the same kind from the same article that
neither holds. The new question is paired with the item that answered the original, labelled wrong.

Which word is swapped, and for which, is drawn from a generator seeded by the question's id, so the
same data give the same questions.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from eval.reader_examples import Item, ReaderExample
from eval.squad import SquadQuestion

_WORD = re.compile(r"\w+(?:[-:]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]\s*$")
_YEAR = re.compile(r"(1\d|20)\d\d\D*")
# Words are compared by their first letters, so that an inflected form matches its base form.
STEM = 5


def _stem(word: str) -> str:
    return word.lower()[:STEM]


def _kind(word: str) -> str | None:
    """"year", "number" (a word with a digit), "name" (a capitalised word) or None."""
    if _YEAR.fullmatch(word):
        return "year"
    if any(c.isdigit() for c in word):
        return "number"
    if word[:1].isupper() and not word.isupper():
        return "name"
    return None


def _mid_sentence(text: str) -> Iterable[tuple[str, str]]:
    """The names (runs of capitalised words), years and numbers of ``text`` with their kind; a capitalised
    word opening a sentence starts no name."""
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        match, kind = words[i], _kind(words[i].group())
        opens = match.start() == 0 or bool(_SENTENCE_END.search(text[: match.start()]))
        if kind is None or (kind == "name" and opens):
            i += 1
            continue
        end = i + 1
        while (kind == "name" and end < len(words) and _kind(words[end].group()) == "name"
               and text[words[end - 1].end() : words[end].start()] == " "):
            end += 1
        yield text[match.start() : words[end - 1].end()], kind
        i = end


def article_pools(questions: Sequence[SquadQuestion]) -> dict[int, dict[str, list[str]]]:
    """Per article, its names and numbers (each once, in text order) by kind."""
    seen: dict[int, dict[str, dict[str, None]]] = defaultdict(lambda: {"name": {}, "year": {}, "number": {}})
    for paragraph in dict.fromkeys((q.doc, q.context) for q in questions):
        for word, kind in _mid_sentence(paragraph[1]):
            seen[paragraph[0]][kind][word] = None
    return {doc: {kind: list(words) for kind, words in kinds.items()} for doc, kinds in seen.items()}


def swapped(question: str, key: str, supported: str, pool: dict[str, list[str]]) -> str | None:
    """``question`` with one of its names or numbers that ``supported`` holds replaced by one of ``pool``
    that neither holds; None when there is none to swap."""
    held = {_stem(w) for w in _WORD.findall(supported)}
    asked = {_stem(w) for w in _WORD.findall(question)}

    def others(kind: str) -> list[str]:
        return [span for span in pool.get(kind, [])
                if not any(_stem(w) in held or _stem(w) in asked for w in _WORD.findall(span))]

    targets = [(span, kind) for span, kind in _mid_sentence(question)
               if any(_stem(word) in held for word in _WORD.findall(span)) and others(kind)]
    if not targets:
        return None
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    span, kind = targets[int(rng.integers(len(targets)))]
    choices = others(kind)
    other = choices[int(rng.integers(len(choices)))]
    return re.sub(rf"(?<!\w){re.escape(span)}(?!\w)", other, question, count=1)


def swap_examples(examples: Sequence[ReaderExample], questions: Sequence[SquadQuestion]) -> list[ReaderExample]:
    """For each answerable squad example with a right item, the near miss made from it (see the module),
    as an unanswerable example whose items are the original's right items, labelled wrong."""
    by_id = {q.id: q for q in questions}
    pools = article_pools(questions)
    made = []
    for example in examples:
        source = by_id.get(example.id)
        right = [item for item in example.items if item.right]
        if source is None or not example.answerable or not right:
            continue
        supported = " ".join(f"{item.context} {item.text}" for item in right)
        question = swapped(example.question, example.id, supported, pools.get(source.doc, {}))
        if question is None:
            continue
        items = tuple(Item(item.context, item.text, item.score, False) for item in right)
        made.append(ReaderExample("swap", f"{example.id}-swap", question, False, example.group, items, len(items),
                                  example.answerable_probability))
    return made
