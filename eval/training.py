"""Training examples for the answer engine's models, from the product's own evidence stage.

Every example comes from ``Assistant.look``: the question is prepared, retrieved and understood
exactly as when it is answered, and each candidate item of its evidence is one row of features.

- *squad2fi-qa* (``train_*``): the articles ingested as documents; a candidate is a positive when it
  holds one of the question's gold answers. The adversarial unanswerable questions give
  question-level negatives for answerability.
- *the in-domain question sets* (``eval/questionset.py``'s ``TRAINING_SETS``): a candidate is a positive when
  it is one of the question's evidence passages (or holds one) in one of its sources and pages. Follow-ups are asked
  with their history resolved as the product resolves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.evidence import FEATURES, Candidate, Looked
from assistant.service import Assistant
from eval.metrics import is_relevant
from eval.questionset import Question, collapse_whitespace, fold_of
from eval.runner import history_turns
from eval.squad import SquadQuestion, gold_in
from ingest.store import Snapshot
from kysy.models import Chunk

Progress = Callable[[str, int, int], None]
_WORD = re.compile(r"\w+")
# An item and an evidence passage are the same text when this share of the shorter one's words is in both.
SAME_TEXT = 0.6


@dataclass(frozen=True)
class Example:
    """One question's evidence with a label per candidate and whether the question is answerable."""

    source: str  # "squad" or "own"
    id: str
    kind: str  # the question's type (own set) or "squad"
    answerable: bool
    looked: Looked
    labels: tuple[bool, ...]
    snapshot: Snapshot  # the index the question was asked of
    group: int = 0  # the cross-validation fold (own set) or the article (squad)
    truth: tuple[str, ...] = ()  # gold answers (squad) or answer keywords (own set)
    sources: tuple[str, ...] = ()  # the own question's source files
    evidence: tuple[str, ...] = ()  # the own question's evidence passages

    def is_relevant(self, chunk: Chunk) -> bool:
        """Whether a cited passage holds the question's evidence (as the evaluation's citation precision)."""
        return is_relevant(chunk.file, chunk.text, self.sources, self.evidence)

    @property
    def features(self) -> np.ndarray:
        """The candidates' features, one row each."""
        return self.looked.evidence.matrix()


def squad_examples(assistant: Assistant, questions: Sequence[SquadQuestion], progress: Progress | None = None
                   ) -> list[Example]:
    """Examples of squad2fi-qa questions asked of an index holding their articles."""
    report = progress or (lambda stage, advance, total: None)
    examples = []
    for question in questions:
        looked = assistant.look(question.question, "fi")
        labels = tuple(gold_in(c.text, question.answers) for c in looked.evidence.candidates)
        examples.append(Example("squad", question.id, "squad", question.answerable, looked, labels,
                                assistant.snapshot, question.doc, question.answers))
        report("examples", 1, len(questions))
    return examples


def own_looks(assistant: Assistant, questions: Sequence[Question],
              progress: Progress | None = None) -> Iterator[tuple[int, Question, Looked]]:
    """Each question of the set (injection attempts left out) with its place in the file and what the
    assistant finds for its standalone form (an earlier turn of its conversation resolved)."""
    report = progress or (lambda stage, advance, total: None)
    for i, question in enumerate(questions):
        report("examples", 1, len(questions))
        if question.type == "injection":
            continue
        standalone = assistant.resolve(question.question, history_turns(question.history)).standalone
        yield i, question, assistant.look(standalone)


def own_examples(assistant: Assistant, questions: Sequence[Question], folds: int = 5,
                 progress: Progress | None = None) -> list[Example]:
    """Examples of the question set's questions (injection attempts left out), each in the fold its wording
    gives (``fold_of``)."""
    examples = []
    for _, question, looked in own_looks(assistant, questions, progress):
        labels = tuple(is_evidence(c, looked, question) for c in looked.evidence.candidates)
        examples.append(Example("own", question.id, question.type, question.answerable, looked, labels,
                                assistant.snapshot, fold_of(question, folds), question.answer_keywords,
                                question.sources, question.evidence))
    return examples


def is_evidence(candidate: Candidate, looked: Looked, question: Question) -> bool:
    """Whether ``candidate`` is (or holds) one of the question's evidence passages, in a source it names."""
    if not question.answerable:
        return False
    chunk = looked.retrieved[candidate.rank].chunk
    pages = question.pages.get(chunk.file, ())
    if chunk.file not in question.sources or (pages and chunk.page not in pages):
        return False
    return any(collapse_whitespace(candidate.text) in collapse_whitespace(passage) or same_text(candidate.text, passage)
               for passage in question.evidence)


def same_text(item: str, passage: str) -> bool:
    """Whether an item and an evidence passage are the same text: ``SAME_TEXT`` of the shorter one's words
    (lower-cased) are in both."""
    words, other = _words(item), _words(passage)
    shorter = min(len(words), len(other))
    return bool(shorter) and len(words & other) / shorter >= SAME_TEXT


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


def stack(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and the example index of every candidate row of ``examples``."""
    if not examples:
        return np.zeros((0, len(FEATURES))), np.zeros(0, dtype=bool), np.zeros(0, dtype=int)
    features = np.vstack([example.features for example in examples])
    labels = np.concatenate([np.array(example.labels, dtype=bool) for example in examples])
    groups = np.concatenate([np.full(len(example.labels), i) for i, example in enumerate(examples)])
    return features, labels, groups

