"""A question set checked against the index it is about to be asked of.

Before any question is asked, every source must be an indexed document (compared by file name, as relevance
compares them, so ``corpus/x.txt`` names ``x.txt``), every page one its document has, and every evidence
passage must be found in an indexed chunk of one of its sources by the very rule that judges a retrieved
chunk relevant (``eval.metrics.is_relevant``: the chunk holds at least 80 % of the passage's words). A
passage accepted here can be judged relevant; one that is not would count against the product.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from eval.metrics import is_relevant
from eval.questionset import Question
from kysy.models import Chunk, DocumentInfo

_SHOWN = 60  # characters of a passage quoted in a message


def index_problems(path: Path, questions: Sequence[Question], chunks: Sequence[Chunk],
                   documents: Iterable[DocumentInfo]) -> list[str]:
    """One line per source, page or evidence passage of ``questions`` that the index does not hold,
    each starting with ``<path>, line <n>:``; empty when the set fits the index."""
    by_file: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_file[PurePath(chunk.file).name].append(chunk)
    pages = {PurePath(info.file).name: info.pages for info in documents
             if any(chunk.page is not None for chunk in by_file.get(PurePath(info.file).name, ()))}
    problems: list[str] = []
    for question in questions:
        where = f"{path}, line {question.line}"
        indexed = [source for source in question.sources if PurePath(source).name in by_file]
        problems += [f"{where}: source {source!r} is not among the indexed documents{_close(source, by_file)}"
                     for source in question.sources if source not in indexed]
        problems += [f"{where}: {problem}" for problem in _page_problems(question, pages)]
        if indexed:
            problems += [f"{where}: {problem}" for problem in _evidence_problems(question, indexed, by_file)]
    return problems


def _close(source: str, names: Iterable[str]) -> str:
    """``; did you mean x?`` for the indexed file name closest to ``source``, if one is close."""
    close = difflib.get_close_matches(PurePath(source).name, list(names), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _page_problems(question: Question, pages: dict[str, int]) -> list[str]:
    """The pages of ``question`` that their document does not have (or a document without pages)."""
    problems = []
    for file, numbers in question.pages.items():
        name = PurePath(file).name
        count = pages.get(name)
        if count is None:
            problems.append(f"pages of {file!r} are given, but it has no pages in the index "
                            "(pages are for PDFs and slide decks)")
            continue
        beyond = [n for n in numbers if n > count]
        if beyond:
            problems.append(f"page {', '.join(map(str, beyond))} of {file!r} is out of range: it has pages 1..{count}")
    return problems


def _evidence_problems(question: Question, sources: Sequence[str], by_file: dict[str, list[Chunk]]) -> list[str]:
    """The evidence passages of ``question`` that no indexed chunk of its ``sources`` would be judged relevant by."""
    chunks = [chunk for source in dict.fromkeys(PurePath(s).name for s in sources) for chunk in by_file[source]]
    problems = []
    for passage in question.evidence:
        if not any(is_relevant(chunk.file, chunk.text, question.sources, [passage]) for chunk in chunks):
            shown = passage if len(passage) <= _SHOWN else passage[:_SHOWN].rsplit(" ", 1)[0] + "…"
            problems.append(f"evidence {shown!r} is not found in {' or '.join(sources)} (no indexed chunk of it "
                            "holds 80 % of the passage's words)")
    return problems
