"""The reader's examples: questions with the items the answer engine would have it read, labelled.

Every question goes through ``Assistant.look`` and the item scorer exactly as when it is answered;
the reader's items are the best ``items`` candidates by score (what ``KYSY_READER_ITEMS`` reads),
and for training also every right item scored lower (so that each answerable question shows one).

- *squad2fi-qa*: an item is right when it holds one of the gold answers and is a sentence of the
  question's own paragraph; every other item (the paragraph's other sentences, other paragraphs) is
  wrong, and so is every item of an adversarial unanswerable question: its paragraph's best
  sentences are the near misses the reader must refuse.
- *the question set*: an item is right when it is one of the question's evidence passages in a
  source it names (``eval/training.is_evidence``); follow-ups are resolved as the product resolves
  them.

Examples are kept as JSON lines, so a rerun of ``make train-reader`` reads them instead of asking again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.evidence import Candidate, Looked
from assistant.reader import context_of
from assistant.service import Assistant
from eval.questionset import Question
from eval.squad import SquadQuestion, fold, gold_in
from eval.training import Progress, is_evidence, own_looks

_WORD = re.compile(r"\w+")
# A right squad item is a sentence of the question's paragraph: this share of its words are the paragraph's.
IN_PARAGRAPH = 0.8


@dataclass(frozen=True)
class Item:
    """One item as the reader reads it, its item score and whether it answers the question."""

    context: str
    text: str
    score: float
    right: bool


@dataclass(frozen=True)
class ReaderExample:
    """One question: the items read (best score first; ``read`` of them are what the product reads,
    the rest right items scored lower) and the answer engine's own answerability."""

    source: str  # "squad" or "own"
    id: str
    question: str
    answerable: bool
    group: int  # the article (squad) or the cross-validation fold (own set)
    items: tuple[Item, ...]
    read: int
    answerable_probability: float  # the answerability model's, without the reader

    def to_json(self) -> dict[str, object]:
        """The example as one JSON line."""
        value = dict(self.__dict__)
        value["items"] = [item.__dict__ for item in self.items]
        return value

    @classmethod
    def from_json(cls, value: dict[str, object]) -> ReaderExample:
        """An example read back."""
        items = tuple(Item(**item) for item in value["items"])  # type: ignore[attr-defined]
        return cls(**{**value, "items": items})  # type: ignore[arg-type]


def _example(assistant: Assistant, looked: Looked, source: str, id_: str, answerable: bool, group: int,
             right: Callable[[int], bool], items: int) -> ReaderExample:
    judged = assistant.engine.judge(looked, assistant.snapshot, assistant.analyzer)
    scores = judged.scores
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    chosen = order[:items] + [i for i in order[items:] if right(i)]
    candidates = looked.evidence.candidates
    found = tuple(Item(context_of(looked, i), candidates[i].text, round(float(scores[i]), 6), right(i))
                  for i in chosen)
    return ReaderExample(source, id_, looked.query.text, answerable, group, found, min(items, len(order)),
                         round(judged.verdict.probability, 6))


def squad_examples(assistant: Assistant, questions: Sequence[SquadQuestion], items: int,
                   progress: Progress | None = None) -> Iterator[ReaderExample]:
    """Examples of squad2fi-qa questions asked of an index holding their articles."""
    report = progress or (lambda stage, advance, total: None)
    for question in questions:
        looked = assistant.look(question.question, "fi")
        paragraph = _words(question.context)
        candidates = looked.evidence.candidates

        def right(i: int, question: SquadQuestion = question, paragraph: set[str] = paragraph,
                  candidates: tuple[Candidate, ...] = candidates) -> bool:
            text = candidates[i].text
            words = _words(text)
            inside = bool(words) and len(words & paragraph) / len(words) >= IN_PARAGRAPH
            return question.answerable and inside and gold_in(text, question.answers)

        yield _example(assistant, looked, "squad", question.id, question.answerable, question.doc, right, items)
        report("examples", 1, len(questions))


def own_examples(assistant: Assistant, questions: Sequence[Question], items: int, folds: int,
                 progress: Progress | None = None) -> Iterator[ReaderExample]:
    """Examples of the question set (injection attempts left out, and questions not in Finnish: the reader
    reads Finnish questions only); question ``i`` is in fold ``i % folds``."""
    for i, question, looked in own_looks(assistant, questions, progress):
        if looked.query.language != "fi":
            continue
        candidates = looked.evidence.candidates

        def right(k: int, looked: Looked = looked, question: Question = question,
                  candidates: tuple[Candidate, ...] = candidates) -> bool:
            return is_evidence(candidates[k], looked, question)

        yield _example(assistant, looked, "own", question.id, question.answerable, i % folds, right, items)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text)))


def cached(path: Path, make: Callable[[], Iterator[ReaderExample]]) -> list[ReaderExample]:
    """The examples kept at ``path``, or made (and kept there) when it is not there yet."""
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            return [ReaderExample.from_json(json.loads(line)) for line in handle if line.strip()]
    examples = list(make())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in examples)
    tmp.replace(path)
    return examples
