"""Refusing before answering: prompt injection, and the topics suggested when the materials do not answer.

Whether the materials answer a question is the answer engine's decision (``assistant/answerability.py``);
this module only spots a question that is an instruction to the model rather than a question, and
names the nearest covered topics for a "not found" answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kysy.models import ScoredChunk

_INJECTION = re.compile(
    r"(?:unohda|ohita|älä\s+välitä|ignore|disregard|forget|glöm|ignorera)\b[^.:?!]*"
    r"(?:ohje|lähte|sääntö|instruction|source|rule|prompt|instruktion|källor)"
    r"|järjestelmäkehote|system\s*prompt|systemprompt|^\s*system\s*:"
    r"|api[- ]?avai|api[- ]?key"
    r"|(?:vastaa|sano|kirjoita|say|answer|write|svara)\s+(?:pelkästään|vain|only|just|endast)?\s*['\"‘’“”]"
    r"|merkitse\s+lähteeksi|cite\s+\[\d+\]",
    re.IGNORECASE,
)


def injection_question(question: str) -> str | None:
    """The genuine question inside a prompt-injection attempt.

    Returns None when ``question`` shows no injection, "" when it is nothing but an injection,
    else the part after the instructions (the text after the last colon when it asks something).
    """
    if not _INJECTION.search(question):
        return None
    tail = question.rsplit(":", 1)[-1].strip() if ":" in question else ""
    if tail and tail.endswith("?") and not _INJECTION.search(tail):
        return tail
    return ""


def suggest_topics(retrieved: Sequence[ScoredChunk], limit: int = 3) -> tuple[str, ...]:
    """Headings (else document titles) of the nearest chunks, cleaned and without repeats."""
    topics: dict[str, str] = {}
    for hit in retrieved:
        topic = _topic(hit.chunk.heading) if hit.chunk.heading else _clean(hit.chunk.title)
        if topic and topic.lower() not in topics:
            topics[topic.lower()] = topic[:1].upper() + topic[1:]
        if len(topics) == limit:
            break
    return tuple(topics.values())


def _topic(heading: str) -> str:
    """A heading path's last part; a one-word part ("Tausta", "Periaatteet") says little alone, so it comes
    after its parent ("Aluepilotoinnit: Tausta"), or gives way to a parent that already names it
    ("Lähtökohtia Etelä-Karjalan pilottiin" over "ETELÄ-KARJALA")."""
    parts = [part for part in (_clean(p) for p in heading.split(" > ")) if part]
    if not parts:
        return ""
    last = parts[-1]
    if len(parts) == 1 or " " in last:
        return last
    parent = parts[-2]
    if last.lower()[:5] in parent.lower():
        return parent
    return f"{parent}: {last}"


def _clean(heading: str) -> str:
    """A heading without surrounding marks and repeated spaces, and not in capitals."""
    return _unshouted(re.sub(r"\s+", " ", heading).strip(" #:-–—>"))


def _unshouted(topic: str) -> str:
    """A heading written in capitals as a name is written ("ETELÄ-KARJALA" -> "Etelä-Karjala"); a heading of
    several such words as a sentence, its first letter only capital; any other heading as it is."""
    if not topic.isupper():
        return topic
    return topic.title() if " " not in topic else topic[:1] + topic[1:].lower()
