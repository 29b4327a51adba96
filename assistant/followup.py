"""Follow-up questions: turn "Entä Lapissa?" into a question that stands on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingest.analyze import Analyzer
from kysy.models import Turn

# A question with at most this many content words is treated as elliptic when there is history.
_SHORT = 4


def standalone_question(
    question: str, history: Sequence[Turn], analyzer: Analyzer, *, generator: Any = None
) -> str:
    """Rewrite ``question`` using the conversation so retrieval sees its topic.

    With an LLM the question is condensed by the model; without one, the previous user
    question's topic words are carried over when the new question is short.
    """
    previous = [turn.content for turn in history if turn.role == "user"]
    if not previous:
        return question
    if generator is not None:
        condensed: str = generator.condense(question, history)
        if condensed:
            return condensed
    if len(analyzer.content_lemmas(question)) > _SHORT:
        return question
    return f"{question} {previous[-1]}"
