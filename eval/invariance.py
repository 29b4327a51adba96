"""Properties that must hold over the whole question set, whatever the answers are.

*Conversation invariance*: an answerable standalone question asked after an unrelated earlier turn
gets the same first citation (file and page) as when it is asked with no history. The earlier turns
are other questions of the set (with the product's own answers to them), drawn deterministically
from those that share no source document with the question.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.service import Assistant
from eval.questionset import Question
from kysy.models import Answer, Turn

EARLIER_TURNS = 3
CONVERSATION_TYPES = frozenset({"followup", "topic_switch"})

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Variant:
    """One question asked after one earlier turn, and what it was answered with."""

    question_id: str
    earlier_id: str
    expected: tuple[str, int | None] | None  # first citation with no history (None: refused)
    got: tuple[str, int | None] | None
    standalone_query: str

    @property
    def holds(self) -> bool:
        """Whether the first citation is the same as with no history."""
        return self.expected == self.got


@dataclass(frozen=True)
class InvarianceReport:
    """Every variant asked, and the share that kept its first citation."""

    variants: tuple[Variant, ...]

    @property
    def share(self) -> float:
        """The share of variants whose first citation did not change (1.0 when there are none)."""
        return sum(v.holds for v in self.variants) / len(self.variants) if self.variants else 1.0

    def failures(self) -> list[Variant]:
        """The variants whose first citation changed."""
        return [variant for variant in self.variants if not variant.holds]

    def summary(self) -> dict[str, object]:
        """The JSON-safe figures and failures."""
        return {
            "variants": len(self.variants),
            "questions": len({v.question_id for v in self.variants}),
            "share": round(self.share, 4),
            "failures": [
                {"id": v.question_id, "after": v.earlier_id, "expected": v.expected, "got": v.got,
                 "standalone_query": v.standalone_query}
                for v in self.failures()
            ],
        }


def first_citation(answer: Answer) -> tuple[str, int | None] | None:
    """The file and page of an answer's first citation; None for a refusal or an uncited answer."""
    if answer.not_found or not answer.citations:
        return None
    citation = answer.citations[0]
    return citation.file, citation.page


def standalone_questions(questions: Sequence[Question]) -> list[Question]:
    """The answerable questions asked with no history (conversation cases left out)."""
    return [q for q in questions if q.answerable and not q.history and q.type not in CONVERSATION_TYPES]


def unrelated(question: Question, pool: Sequence[Question], count: int = EARLIER_TURNS, seed: str = "") -> list[Question]:
    """``count`` questions of ``pool`` sharing no source with ``question``, drawn with a seed of its id
    (and ``seed``: the fitting of ``eval/followup_fit.py`` draws other turns than the measurement)."""
    sources = set(question.sources)
    others = [q for q in pool if q.id != question.id and not sources & set(q.sources)]
    return random.Random(question.id + seed).sample(others, min(count, len(others)))


def conversation_invariance(
    assistant: Assistant, questions: Sequence[Question], progress: Progress | None = None
) -> InvarianceReport:
    """Ask each answerable standalone question alone and after ``EARLIER_TURNS`` unrelated turns."""
    report = progress or (lambda stage, advance, total: None)
    pool = [q for q in questions if not q.history and q.type not in CONVERSATION_TYPES and q.type != "injection"]
    alone = {q.id: assistant.ask(q.question) for q in pool}
    targets = standalone_questions(pool)
    variants = []
    for question in targets:
        expected = first_citation(alone[question.id])
        for earlier in unrelated(question, pool):
            history = [Turn("user", earlier.question), Turn("assistant", alone[earlier.id].text)]
            answer = assistant.ask(question.question, history)
            query = str(answer.meta.get("standalone_query", ""))
            variants.append(Variant(question.id, earlier.id, expected, first_citation(answer), query))
        report("invariance", 1, len(targets))
    return InvarianceReport(tuple(variants))
