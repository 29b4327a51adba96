"""Where each quotable item sits in its chunk: its section, the list it belongs to, the heading above it.

Answers keep the sources' structure: a list is quoted under its heading, and a question about a
heading's topic is answered by the list under it. Sections start at heading lines (``#``); a
heading quoted as a statement is prose in the section it opens. A run
is one list: consecutive list items or short lines (slides write lists as short lines). A line
ending with ":" ("Syksyn yhdyspintafoorumit:"), or a short line between two lists ("Lisää
aiheesta"), introduces the run after it: it is that run's heading, not one of its members.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.store import StoredSentence
from kysy.models import Chunk

# A line of at most this many words, not ending a sentence, reads as a list line.
SHORT_ITEM_WORDS = 14
HEADING_LINE = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Place:
    """An item's place: section number, list run (-1 for prose), the heading above it, and whether it
    is itself the line that introduces the next list."""

    section: int
    run: int
    heading: str
    introduces: bool = False


def is_short_line(text: str) -> bool:
    """A line that reads as a list entry rather than a sentence."""
    return len(text.split()) <= SHORT_ITEM_WORDS and not text.rstrip().endswith((".", "?", "!"))


def layout(chunk: Chunk, items: Sequence[StoredSentence]) -> list[Place]:
    """The place of each of ``items`` (a chunk's quotable items, in order) in the chunk's structure."""
    headings = [(match.start(), match.group(1).strip()) for match in HEADING_LINE.finditer(chunk.text)]
    section_heading = chunk.heading.split(" > ")[-1] if chunk.heading else ""
    places: list[Place] = []
    section = run = 0
    run_heading = ""
    in_list = False
    for i, item in enumerate(items):
        sentence = item.sentence
        passed = [text for start, text in headings if start < sentence.start]
        if len(passed) != section:
            section, in_list, run_heading = len(passed), False, ""
            run += 1
        heading = passed[-1] if passed else section_heading
        if sentence.is_heading:
            in_list, run_heading = False, ""
            places.append(Place(section, -1, heading))
            continue
        if _introduces(items, i):
            run += 1
            run_heading, in_list = sentence.text.strip().rstrip(":").strip(), True
            places.append(Place(section, -1, heading, introduces=True))
            continue
        if sentence.is_list_item or is_short_line(sentence.text):
            if not in_list:
                run, run_heading, in_list = run + 1, "", True
            places.append(Place(section, run, run_heading or heading))
        else:
            in_list, run_heading = False, ""
            places.append(Place(section, -1, heading))
    return places


def _introduces(items: Sequence[StoredSentence], i: int) -> bool:
    """Whether item ``i`` is the lead-in of the list that follows it (a quotable heading is not)."""
    text = items[i].sentence.text.rstrip()
    following = i + 1 < len(items) and (
        items[i + 1].sentence.is_list_item or is_short_line(items[i + 1].sentence.text)
    )
    if text.endswith(":"):
        return following
    between_lists = i > 0 and items[i - 1].sentence.is_list_item and following and items[i + 1].sentence.is_list_item
    return between_lists and not items[i].sentence.is_list_item and is_short_line(text)
