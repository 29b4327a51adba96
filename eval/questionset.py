"""The evaluation question set: a JSONL file of questions with their sources and evidence.

One question per line (UTF-8, a byte-order mark is accepted, blank lines are skipped)::

    {"id": str, "question": str, "history": [str, ...], "answerable": bool,
     "sources": [file, ...], "pages": {file: [page, ...]}, "evidence": [passage, ...],
     "answer_keywords": [str, ...], "type": str}

``history`` (alternating user/assistant turns, oldest first, ending with the assistant's) and ``pages``
are optional; ``type`` is one of ``QUESTION_TYPES``. README.md "The question-set format" documents each
field; ``eval/questioncheck.py`` checks a set against the index before it is asked.
Evidence passages are verbatim source text after collapsing whitespace runs to one space.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pypdf

from kysy.errors import KysyError

logger = logging.getLogger(__name__)

_REQUIRED = ("id", "question", "answerable", "sources", "evidence", "answer_keywords", "type")
_OPTIONAL = ("history", "pages")
_STRING_LISTS = ("sources", "evidence", "answer_keywords", "history")
# Past this many bad lines the rest of a file's problems are only counted.
_MAX_ERRORS = 20
_FORMAT_HINT = "expected JSON Lines: one JSON object per line (not a JSON array, not CSV)"

# The question types the bundled sets use, with what each asks; the report gives its figures per type.
QUESTION_TYPES = {
    "fact": "one fact stated in one place",
    "number": "a number: a count, a sum, a date",
    "list": "the items of a list",
    "broad": "a summary of a topic",
    "multi_doc": "facts from two or more documents",
    "keyword": "a bare keyword, as typed into a search box",
    "typo": "a question with typing errors",
    "synonym": "a question in other words than its source's",
    "long": "a long question with background",
    "english": "a question in English",
    "swedish": "a question in Swedish",
    "followup": "a follow-up understood only with its history",
    "topic_switch": "a standalone question after a conversation on another topic",
    "unanswerable": "the materials do not answer it",
    "injection": "an attempt to make the assistant leave its instructions",
}
# Types that are asked in a conversation: they need a history.
_CONVERSATION_TYPES = ("followup", "topic_switch")


class QuestionSetError(KysyError):
    """The question set file is malformed; the message names the line and the problem."""

    code = "question_set_error"

    @classmethod
    def of(cls, problems: list[str]) -> QuestionSetError:
        """One error of many problems: the first ``_MAX_ERRORS`` one a line, then how many more there are."""
        shown = problems[:_MAX_ERRORS]
        if len(problems) > _MAX_ERRORS:
            shown.append(f"... and {len(problems) - _MAX_ERRORS} more problems")
        return cls("\n".join(shown))


class _NotAnObjectError(QuestionSetError):
    """A line that is not a JSON object: on the first line, most likely a JSON array or CSV file."""


@dataclass(frozen=True)
class Question:
    """One evaluation question with what a correct answer must rest on and contain.

    ``line`` is the question's line in its file (0 when it was not read from one).
    """

    id: str
    question: str
    answerable: bool
    sources: tuple[str, ...]
    evidence: tuple[str, ...]
    answer_keywords: tuple[str, ...]
    type: str
    history: tuple[str, ...] = ()
    pages: dict[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    line: int = field(default=0, compare=False)


def collapse_whitespace(text: str) -> str:
    """Replace every whitespace run (newlines included) with one space and trim the ends."""
    return re.sub(r"\s+", " ", text).strip()


def load_questions(path: str | Path) -> list[Question]:
    """Read and validate a JSONL question set.

    Blank lines are skipped and a UTF-8 byte-order mark is accepted. A question asked twice in the same words
    (and after the same history) under two ids is logged as a warning.

    Raises:
        QuestionSetError: the file is missing, a directory, unreadable or not UTF-8; or lines with bad JSON,
            a missing, unknown or mistyped field, an unknown ``type`` (see ``QUESTION_TYPES``), a type its
            other fields contradict, an answerable question without sources, evidence or keywords, an
            unanswerable one with any, page numbers for a file not in ``sources``, or a repeated id; or a
            file without questions. One line per problem, each starting with ``<path>, line <n>:``.
    """
    path = Path(path)
    questions: list[Question] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            question = _parse_line(line, number)
        except QuestionSetError as error:
            if not questions and not errors and isinstance(error, _NotAnObjectError):
                raise QuestionSetError(f"{path}, line {number}: {error}; {_FORMAT_HINT}") from None
            errors.append(f"{path}, line {number}: {error}")
            continue
        if question.id in seen:
            errors.append(f"{path}, line {number}: id {question.id!r} repeats line {seen[question.id]}")
        seen.setdefault(question.id, number)
        questions.append(question)
    if errors:
        raise QuestionSetError.of(errors)
    if not questions:
        raise QuestionSetError(f"{path}: no questions in the file")
    _warn_twins(path, questions)
    logger.debug("loaded %d questions from %s", len(questions), path)
    return questions


def _lines(path: Path) -> list[tuple[int, str]]:
    """The numbered lines of a UTF-8 file (a leading byte-order mark dropped).

    Raises:
        QuestionSetError: the file is missing, a directory or unreadable, or a line is not UTF-8.
    """
    if path.is_dir():
        raise QuestionSetError(f"{path}: is a directory; --questions takes a JSON Lines file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise QuestionSetError(f"{path}: no such question file") from None
    except OSError as error:
        raise QuestionSetError(f"{path}: cannot read the question file ({error.strerror or error})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as error:
            raise QuestionSetError(f"{path}, line {number}: not UTF-8 (byte 0x{raw[error.start]:02x} at column "
                                   f"{error.start + 1}); the question file must be UTF-8") from None
    return lines


def _warn_twins(path: Path, questions: list[Question]) -> None:
    """Log each question asked in the same words, after the same history, as an earlier one under another id."""
    first: dict[tuple[str, tuple[str, ...]], Question] = {}
    for question in questions:
        key = (wording_key(question.question), tuple(wording_key(turn) for turn in question.history))
        earlier = first.setdefault(key, question)
        if earlier is not question:
            logger.warning("%s, line %d: question %r asks the same words as %r (line %d)", path, question.line,
                           question.id, earlier.id, earlier.line)


def _parse_line(line: str, number: int = 0) -> Question:
    """Turn one JSON line into a validated Question."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _NotAnObjectError(f"bad JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(record, dict):
        raise _NotAnObjectError(f"expected a JSON object, got {type(record).__name__}")
    _check_fields(record)
    _check_types(record)
    _check_answerability(record)
    _check_type(record)
    pages = _parse_pages(record.get("pages", {}), record["sources"])
    return Question(
        id=record["id"],
        question=record["question"],
        answerable=record["answerable"],
        sources=tuple(record["sources"]),
        evidence=tuple(record["evidence"]),
        answer_keywords=tuple(record["answer_keywords"]),
        type=record["type"],
        history=tuple(record.get("history", ())),
        pages=pages,
        line=number,
    )


def _check_fields(record: dict[str, Any]) -> None:
    """Every required field present and no unknown one (a misspelt field would be ignored)."""
    known = (*_REQUIRED, *_OPTIONAL)
    unknown = [name for name in record if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise QuestionSetError(f"unknown field(s) {', '.join(hints)}; the fields are {', '.join(known)}")
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        raise QuestionSetError(f"missing field(s): {', '.join(missing)}")


def _check_types(record: dict[str, Any]) -> None:
    """Check the JSON types of the fields."""
    for name in ("id", "question", "type"):
        if not isinstance(record[name], str) or not record[name].strip():
            raise QuestionSetError(f"field {name!r} must be a non-empty string")
    if not isinstance(record["answerable"], bool):
        raise QuestionSetError(f"field 'answerable' must be true or false, got {record['answerable']!r}")
    for name in _STRING_LISTS:
        value = record.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise QuestionSetError(f"field {name!r} must be a list of non-empty strings")


def _check_answerability(record: dict[str, Any]) -> None:
    """An answerable question rests on sources and evidence; an unanswerable one on nothing."""
    if record["answerable"]:
        for name in ("sources", "evidence", "answer_keywords"):
            if not record[name]:
                raise QuestionSetError(f"answerable question {record['id']!r} has no {name}")
    else:
        for name in ("sources", "evidence", "answer_keywords"):
            if record[name]:
                raise QuestionSetError(f"unanswerable question {record['id']!r} must have empty {name}")


def _check_type(record: dict[str, Any]) -> None:
    """A known ``type`` that the question's other fields agree with."""
    kind = record["type"]
    if kind not in QUESTION_TYPES:
        close = difflib.get_close_matches(kind.lower(), QUESTION_TYPES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise QuestionSetError(f"unknown type {kind!r}{hint}; the types are {', '.join(QUESTION_TYPES)}")
    if kind == "unanswerable" and record["answerable"]:
        raise QuestionSetError("type 'unanswerable' needs \"answerable\": false")
    history = record.get("history", [])
    if kind in _CONVERSATION_TYPES and not history:
        raise QuestionSetError(f"type {kind!r} needs a history (the earlier turns of its conversation)")
    if len(history) % 2:
        raise QuestionSetError(f"history has {len(history)} turns; it alternates user and assistant turns, "
                               "oldest first, and ends with the assistant's (an even number)")


def _parse_pages(pages: object, sources: list[str]) -> dict[str, tuple[int, ...]]:
    """Validate the optional ``pages`` mapping of file -> 1-based page numbers."""
    if not isinstance(pages, dict):
        raise QuestionSetError("field 'pages' must be an object of file -> [page numbers]")
    parsed: dict[str, tuple[int, ...]] = {}
    for file, numbers in pages.items():
        if file not in sources:
            raise QuestionSetError(f"pages names {file!r}, which is not in sources")
        valid = isinstance(numbers, list) and numbers
        if not valid or not all(type(n) is int and n >= 1 for n in numbers):
            raise QuestionSetError(f"pages of {file!r} must be a non-empty list of page numbers >= 1")
        parsed[file] = tuple(numbers)
    return parsed


# The in-domain question sets ``make train`` fits on (paths from the repository root); the other sets under
# eval/ stay out of every fit.
TRAINING_SETS = tuple(Path("eval") / name for name in (
    "questions.fi.jsonl", "questions.holdout.fi.jsonl", "questions.crosslingual.jsonl", "questions.holdout2.jsonl",
    "questions.holdout3.jsonl", *(f"questions.holdout{n}.jsonl" for n in (*range(4, 20), 43, 44, 49))))
_ROOT = Path(__file__).resolve().parent.parent


def wording_key(text: str) -> str:
    """A question's words as written, case and spacing aside: two sets asking the same words share a key."""
    return collapse_whitespace(text).lower()


def fitted_wordings(root: Path = _ROOT) -> frozenset[str]:
    """The ``wording_key`` of every question of ``TRAINING_SETS`` (empty where the sets are not on disk)."""
    paths = [root / path for path in TRAINING_SETS]
    return frozenset(wording_key(q.question) for path in paths if path.is_file() for q in load_questions(path))


def is_fitted_set(path: Path, root: Path = _ROOT) -> bool:
    """Whether ``path`` is one of the sets ``make train`` fits on."""
    return any(path.resolve() == (root / fitted).resolve() for fitted in TRAINING_SETS)


# The cross-validation folds of the fitted sets: ``make train`` fits one model per fold, and
# ``kysy eval --cv-models`` answers each question with the model of its own fold.
FOLDS = 5


def fold_models(models: Path, fold: int) -> tuple[Path, Path, Path]:
    """The item, answerability and breadth models ``make train`` fitted without ``fold``, in ``models``."""
    return models / f"item_scorer.{fold}.txt", models / f"answerability.{fold}.json", models / f"breadth.{fold}.json"


def fold_of(question: Question, folds: int) -> int:
    """The cross-validation fold of a question: fixed by its wording (``wording_key``), whichever set, id or
    line it has, so that ``make train`` and ``kysy eval --cv-models`` put it in the same fold and two sets
    asking the same words never have one answered by models fitted on the other."""
    return zlib.crc32(wording_key(question.question).encode("utf-8")) % folds


def corpus_files(corpus_dir: str | Path) -> list[str]:
    """Return the document file names listed in the corpus's ``sources.json``."""
    listing = json.loads((Path(corpus_dir) / "sources.json").read_text(encoding="utf-8"))
    return [entry["file"] for entry in listing["documents"]]


def source_text(corpus_dir: str | Path, file: str, page: int | None = None) -> str:
    """Return the whitespace-collapsed text of a corpus file, or of one page of a PDF.

    PDF text is pypdf's ``extract_text`` per page; without ``page`` the pages are joined with a
    space. Plain-text files have no pages.

    Raises:
        QuestionSetError: the file does not exist, the page is out of range, or a page was asked
            of a file without pages.
    """
    path = Path(corpus_dir) / file
    if not path.is_file():
        raise QuestionSetError(f"corpus file not found: {path}")
    if path.suffix.lower() != ".pdf":
        if page is not None:
            raise QuestionSetError(f"{file} has no pages; got page={page}")
        return collapse_whitespace(path.read_text(encoding="utf-8"))
    pages = _pdf_pages(str(path.resolve()), path.stat().st_mtime_ns)
    if page is None:
        return " ".join(pages)
    if not 1 <= page <= len(pages):
        raise QuestionSetError(f"{file} has pages 1..{len(pages)}; got page={page}")
    return pages[page - 1]


@lru_cache(maxsize=8)
def _pdf_pages(path: str, mtime_ns: int) -> tuple[str, ...]:
    """Extract and collapse every page of a PDF once per file version."""
    reader = pypdf.PdfReader(path)
    return tuple(collapse_whitespace(page.extract_text()) for page in reader.pages)
