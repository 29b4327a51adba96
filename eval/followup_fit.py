"""Fitting the follow-up thresholds on the question set's conversation cases, with cross-validation.

Every ``followup`` case of the question set should be read as a follow-up, and every ``topic_switch``
case as a standalone question; so should every answerable standalone question of the sets `make train` fits
on (``TRAINING_SETS``) asked after an unrelated earlier question of its set (drawn as in
``eval/invariance.py``, with another seed). For each case the keyword evidence of ``assistant/followup.py``
is computed once; the thresholds are then chosen on a grid for the best balanced accuracy (the mean of the
two classes' accuracies, as standalone pairs far outnumber follow-ups), in-sample and by k-fold
cross-validation (fit on the other folds, score the held-out fold), so the figure that is reported is one no
threshold was fitted on.

    python -m eval.followup_fit  # or --questions SET.jsonl ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.followup import Evidence, FollowupResolver, carried_words, reads_as_followup
from assistant.service import Assistant
from eval.invariance import CONVERSATION_TYPES, standalone_questions, unrelated
from eval.questionset import TRAINING_SETS, Question, load_questions
from eval.runner import history_turns
from kysy.settings import Settings

GRID = tuple(round(0.1 * step, 1) for step in range(11))
WORDS = (2, 3, 4, 5, 6, 8, 50)  # the most content words of a follow-up without a pointing word; 50: no limit
FOLDS = 5
# The earlier turns of the standalone cases are drawn with this seed, so that the invariance figure of
# ``eval/invariance.py`` is measured on other conversations than the thresholds were fitted on.
FIT_SEED = "fit"
TYPES = {"followup": True, "topic_switch": False}


@dataclass(frozen=True)
class Case:
    """One conversation case: its evidence and whether it is a follow-up."""

    id: str
    evidence: Evidence | None  # None: the previous questions add no topic words (always standalone)
    followup: bool


Point = tuple[float, float, float, int]  # the SETTINGS, in order
SETTINGS = ("followup_keep", "followup_keep_pointing", "followup_topic", "followup_words")


def decide(evidence: Evidence | None, point: Point) -> bool:
    """The rule of ``FollowupResolver`` with the given thresholds (no carried words: standalone)."""
    return evidence is not None and reads_as_followup(evidence, *point)


def collect(assistant: Assistant, questions: Sequence[Question]) -> list[Case]:
    """The evidence of every conversation case, with the assistant's current settings for earlier turns."""
    retriever = assistant.retriever
    resolver = FollowupResolver(retriever.queries, retriever.snapshot.keyword, assistant.analyzer, assistant.settings)
    def case(id_: str, question: str, topic: str, followup: bool) -> Case:
        carried = carried_words(question, topic, assistant.analyzer)
        return Case(id_, resolver.evidence(question, " ".join(carried)) if carried else None, followup)

    cases = []
    for question in questions:
        if question.type in TYPES:
            asked = [turn.content for turn in history_turns(question.history) if turn.role == "user"]
            cases.append(case(question.id, question.question, resolver.topic_of(asked), TYPES[question.type]))
    pool = [q for q in questions if not q.history and q.type not in CONVERSATION_TYPES and q.type != "injection"]
    for question in standalone_questions(pool):
        for earlier in unrelated(question, pool, seed=FIT_SEED):
            cases.append(case(f"{question.id}<{earlier.id}", question.question, earlier.question, False))
    return cases


def collect_sets(assistant: Assistant, paths: Sequence[Path]) -> list[Case]:
    """The cases of every question set of ``paths`` (each set's standalone questions after its own turns)."""
    return [case for path in paths for case in collect(assistant, load_questions(path))]


def balanced_accuracy(pairs: Sequence[tuple[bool, bool]]) -> float:
    """The mean over the two labels of the share of (decision, label) pairs decided right."""
    shares = []
    for label in (True, False):
        decisions = [decision for decision, truth in pairs if truth is label]
        if decisions:
            shares.append(sum(decision is label for decision in decisions) / len(decisions))
    return sum(shares) / len(shares) if shares else 0.0


def accuracy(cases: Sequence[Case], point: Point) -> float:
    """Balanced accuracy of the decisions with thresholds ``point``."""
    return balanced_accuracy([(decide(case.evidence, point), case.followup) for case in cases])


def fit(cases: Sequence[Case]) -> Point:
    """The grid point with the best accuracy; ties go to the point whose shares are nearest the middle of
    the grid, then to the most words."""
    return max(
        ((keep, pointing, topic, words) for keep in GRID for pointing in GRID for topic in GRID for words in WORDS),
        key=lambda point: (accuracy(cases, point), -sum(abs(value - 0.5) for value in point[:3]), point[3]),
    )


def cross_validate(cases: Sequence[Case], folds: int = FOLDS) -> float:
    """Balanced accuracy of held-out decisions: case ``i`` (in fold ``i % folds``) is decided with
    thresholds fitted on the other folds."""
    decided: dict[str, bool] = {}
    for fold in range(folds):
        point = fit([case for i, case in enumerate(cases) if i % folds != fold])
        decided.update((case.id, decide(case.evidence, point)) for case in cases[fold::folds])
    return balanced_accuracy([(decided[case.id], case.followup) for case in cases])


def main(argv: Sequence[str] | None = None) -> int:
    """Fit, cross-validate and print the thresholds as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, nargs="+", default=list(TRAINING_SETS),
                        help="question sets (default: the five the answer engine is fitted on; the question set "
                        "holds the conversation cases, all five their standalone questions)")
    args = parser.parse_args(argv)
    assistant = Assistant(Settings())
    cases = collect_sets(assistant, args.questions)
    point = fit(cases)
    current = tuple(getattr(assistant.settings, name) for name in SETTINGS)
    wrong = [case.id for case in cases if decide(case.evidence, point) != case.followup]
    followups = sum(case.followup for case in cases)
    print(json.dumps({
        "cases": {"followup": followups, "standalone": len(cases) - followups},
        "fitted": dict(zip(SETTINGS, point, strict=True)),
        "in_sample_accuracy": round(accuracy(cases, point), 3),
        "cross_validated_accuracy": round(cross_validate(cases), 3),
        "current_settings_accuracy": round(accuracy(cases, current), 3),  # type: ignore[arg-type]
        "wrong_in_sample": wrong,
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
