"""The answer mode over squad2fi-qa: Finnish Wikipedia articles ingested as documents, their questions asked.

``squad2fi-qa`` (``../shared/datasets/squad2fi-qa/``) holds machine-translated SQuAD2 questions with
answer spans, and adversarial unanswerable questions about the same paragraphs. Each article of a
split becomes one Markdown document (its paragraphs in order), so the product ingests and answers
them exactly as it does the project's materials. Scored per question:

- *gold in answer*: an answerable question's gold answer (any of its spans) appears in the answer's
  quoted text (case and whitespace folded); a refusal counts as a miss;
- *answer words*: the words the answer quotes (the lead line, notes and ``[n]`` markers left out);
- *answerable refused* and *unanswerable refused*;
- *gold item rank*: where the answer engine's scores put the first candidate item that holds a gold answer
  (none when no candidate holds one): whether an answer is lost to the ranking, to the passages read or to
  the length of the answer.

Beside the product, a plain BM25 over the same sentences (5-letter prefixes, no lemmas, no vectors)
quotes its best 1, 2 or 3 sentences: the baselines the answers are compared with.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingest.keyword import KeywordIndex
from kysy.errors import ConfigError
from kysy.models import Answer
from kysy.settings import Settings

SPLITS = {"train": ("train_qa", "train_unanswerable"), "dev": ("dev_qa", "dev_unanswerable")}
PREFIX = 5
BASELINE_SENTENCES = (1, 2, 3)
# How deep the gold item's rank is reported: in the first 1, 2, 3 and 6 items by the answer engine's score.
GOLD_RANKS = (1, 2, 3, 6)
_MARKER = re.compile(r"\s*\[\d+\]")
_TOKEN = re.compile(r"\w+")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SquadQuestion:
    """One question of squad2fi-qa: its gold answers (empty when unanswerable) and its paragraph."""

    id: str
    question: str
    answers: tuple[str, ...]
    doc: int
    para: int
    title: str
    context: str

    @property
    def answerable(self) -> bool:
        """Whether the paragraph answers it."""
        return bool(self.answers)


def load_split(dataset: Path, split: str) -> list[SquadQuestion]:
    """The answerable and unanswerable questions of ``split`` ("train" or "dev"), in file order.

    The folder holds ``<split>_qa.jsonl.gz`` and ``<split>_unanswerable.jsonl.gz``: gzipped JSON Lines, one
    question a line with ``id``, ``question``, ``context``, ``doc``, ``para``, ``title`` and, for an answerable
    one, ``answers.text``.

    Raises:
        ConfigError: an unknown split, a missing file, or a file that is not gzip, not UTF-8 JSON Lines or
            lacks a field (the message names the file and line).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown squad2fi-qa split {split!r}: choose from {', '.join(SPLITS)}")
    questions = []
    for name in SPLITS[split]:
        path = Path(dataset) / f"{name}.jsonl.gz"
        if not path.is_file():
            raise ConfigError(f"squad2fi-qa file not found: {path} (the folder needs {split}_qa.jsonl.gz and "
                              f"{split}_unanswerable.jsonl.gz)")
        questions += _read_split_file(path)
    return questions


def _read_split_file(path: Path) -> list[SquadQuestion]:
    """The questions of one gzipped JSON Lines file of squad2fi-qa."""
    questions, number = [], 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                number += 1  # the line the except clauses name
                if line.strip():
                    questions.append(_squad_question(json.loads(line)))
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ConfigError(f"{path}: not a readable gzip file ({exc}); squad2fi-qa files are gzipped JSON Lines") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; squad2fi-qa files are UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}, line {number}: bad JSON ({exc.msg}); expected one JSON object per line") from None
    except KeyError as exc:
        raise ConfigError(f"{path}, line {number}: missing field {exc.args[0]!r}; each line needs id, question, "
                          "context, doc, para, title (and answers.text when answerable)") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}, line {number}: a field has the wrong type ({exc})") from None
    return questions


def _squad_question(row: dict[str, Any]) -> SquadQuestion:
    """One squad2fi-qa row as a question (KeyError, TypeError or ValueError where a field is missing or wrong)."""
    answers = tuple(dict.fromkeys(row.get("answers", {}).get("text", [])))
    return SquadQuestion(str(row["id"]), str(row["question"]), answers, int(row["doc"]), int(row["para"]),
                         str(row["title"]), str(row["context"]))


def article_file(doc: int, title: str) -> str:
    """The document file name of article ``doc``."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "article"
    return f"{doc}-{slug}.md"


def write_articles(questions: Iterable[SquadQuestion], out: Path) -> list[Path]:
    """Write each article as one Markdown document (title heading, paragraphs in order) under ``out``."""
    paragraphs: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    for question in questions:
        paragraphs[(question.doc, question.title)][question.para] = question.context
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (doc, title), texts in sorted(paragraphs.items()):
        path = out / article_file(doc, title)
        body = "\n\n".join(texts[para].strip() for para in sorted(texts))
        path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
        written.append(path)
    return written


def fold(text: str) -> str:
    """Lower-cased, whitespace collapsed: how gold answers are looked for in answers."""
    return " ".join(text.lower().split())


def quoted_text(answer: Answer, extra_lines: Sequence[str] = ()) -> str:
    """The words an answer quotes: its text without the lead line, notes (``extra_lines``) and markers."""
    if answer.not_found:
        return ""
    lines = [line for line in answer.text.splitlines() if line.strip() and line.strip() not in extra_lines]
    return _MARKER.sub("", "\n".join(lines))


def gold_in(text: str, answers: Sequence[str]) -> bool:
    """Whether any gold answer appears in ``text`` (folded)."""
    folded = fold(text)
    return any(fold(answer) in folded for answer in answers if answer.strip())


def word_count(text: str) -> int:
    """Words as the answer-length figures count them."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class AnswerRecord:
    """One question's outcome in the answer mode."""

    id: str
    answerable: bool
    refused: bool
    gold_in_answer: bool
    words: int
    status: str
    gold_rank: int | None = None  # answerable only: the first gold-holding candidate's rank by score (0 = best)
    question: str = ""
    answer: str = ""  # the product's answer as shown (empty when refused)
    gold_answers: tuple[str, ...] = ()


def score(question: SquadQuestion, answer: Answer, extra_lines: Sequence[str], gold_rank: int | None = None
          ) -> AnswerRecord:
    """Score one product answer."""
    text = quoted_text(answer, extra_lines)
    status = str(answer.meta.get("status", "not_found" if answer.not_found else "answered"))
    return AnswerRecord(question.id, question.answerable, answer.not_found, gold_in(text, question.answers),
                        word_count(text), status, gold_rank, question.question,
                        "" if answer.not_found else answer.text, question.answers)


def gold_rank(texts: Sequence[str], scores: Sequence[float], answers: Sequence[str]) -> int | None:
    """The rank, by ``scores`` (best first), of the first of ``texts`` that holds one of ``answers``; None when none does."""
    order = sorted(range(len(texts)), key=lambda i: -scores[i])  # stable: ties keep the candidates' order
    return next((rank for rank, i in enumerate(order) if gold_in(texts[i], answers)), None)


def summarize(records: Sequence[AnswerRecord]) -> dict[str, float | int | None]:
    """gold_in_answer, mean answer words, answerable_refused, unanswerable_refused (None where no question)."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.refused]

    def mean(values: Sequence[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    ranks = [r.gold_rank for r in answerable]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "gold_in_answer": mean([float(r.gold_in_answer) for r in answerable]),
        "mean_answer_words": mean([float(r.words) for r in answered]),
        "answerable_refused": mean([float(r.refused) for r in answerable]),
        "unanswerable_refused": mean([float(r.refused) for r in unanswerable]),
        "partial": mean([float(r.status == "partial") for r in records]),
        **{f"gold_item_in_{n}": mean([float(rank is not None and rank < n) for rank in ranks]) for n in GOLD_RANKS},
        "gold_item_none": mean([float(rank is None) for rank in ranks]),
        "refused_with_gold_item_first": mean([float(r.refused and r.gold_rank == 0) for r in answerable]),
    }


def prefix_terms(text: str, size: int = PREFIX) -> list[str]:
    """Lower-cased word prefixes of ``size`` letters: the baseline's only analysis."""
    return [token.lower()[:size] for token in _TOKEN.findall(text)]


class SentenceBM25:
    """The baseline: BM25 over sentences with prefix terms; quotes the best ``n`` sentences."""

    def __init__(self, sentences: Sequence[str]) -> None:
        self.sentences = list(sentences)
        self.index = KeywordIndex.build([prefix_terms(text) for text in self.sentences])

    def best(self, question: str, n: int) -> list[str]:
        """The ``n`` best sentences for ``question`` (fewer when fewer match)."""
        hits = self.index.search(prefix_terms(question), n) if question.strip() else []
        return [self.sentences[hit.row] for hit in hits]


def baseline(questions: Sequence[SquadQuestion], bm25: SentenceBM25) -> dict[str, dict[str, float | None]]:
    """gold_in_answer and mean words of the BM25 best-1/2/3 sentences over the answerable questions."""
    answerable = [q for q in questions if q.answerable]
    table: dict[str, dict[str, float | None]] = {}
    for n in BASELINE_SENTENCES:
        hits = gold = words = 0
        for question in answerable:
            text = " ".join(bm25.best(question.question, n))
            gold += gold_in(text, question.answers)
            words += word_count(text)
            hits += 1
        table[f"bm25-best-{n}"] = {
            "gold_in_answer": round(gold / hits, 4) if hits else None,
            "mean_answer_words": round(words / hits, 4) if hits else None,
        }
    return table


@dataclass(frozen=True)
class SquadRun:
    """The answer mode's records and figures, with the baselines."""

    records: tuple[AnswerRecord, ...]
    summary: dict[str, float | int | None]
    baselines: dict[str, dict[str, float | None]]
    settings: dict[str, object]
    provenance: dict[str, object] | None = None  # see ``eval/provenance.py``
    other_articles: dict[str, float] | None = None  # see ``chosen_on_other_articles``


def chosen_on_other_articles(settings: Settings, split: str,
                             training: Path | None = None) -> dict[str, float] | None:
    """``make train``'s dev figures with the threshold and the selection numbers chosen on the other half of the
    articles (``training.json``'s ``squad_dev_articles``): what the choice made on dev is worth on articles it did
    not see. None unless ``split`` is dev and the engine answers with the threshold and numbers that training chose
    (no ``answerable_threshold`` or other ``answer_*`` setting, no reader)."""
    if split != "dev" or settings.answerable_threshold is not None or settings.reader:
        return None
    if training is None:
        from assistant.scoring import MODELS_DIR

        training = MODELS_DIR / "training.json"
    try:
        report = json.loads(training.read_text(encoding="utf-8"))
        figures = report["squad_dev_articles"]["held_out"]
        chosen = report["selection"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(getattr(settings, name, None) != value for name, value in chosen.items()):
        return None
    return {name: float(value) for name, value in figures.items()}


def run_squad(settings: Settings, dataset: Path, split: str, *, limit: int | None = None,
              progress: Progress | None = None) -> SquadRun:
    """Ingest the split's articles into ``settings.data_dir`` (incrementally) and ask every question.

    ``limit`` keeps every n-th question so that both kinds stay represented, and only their articles are
    ingested (a later run without it adds the others back).
    """
    from assistant.messages import lead_line, quotes_note
    from assistant.service import Assistant
    from eval import provenance
    from eval.runner import settings_record
    from ingest.pipeline import file_hash, ingest_paths

    report = progress or (lambda stage, advance, total: None)
    questions = load_split(dataset, split)
    asked = questions
    if limit is not None and 0 < limit < len(questions):
        asked = questions[:: max(1, len(questions) // limit)][:limit]
    # only the articles the asked questions are about, each whole (every paragraph any question has)
    docs = {question.doc for question in asked}
    articles = settings.data_dir / f"squad2fi-{split}-articles"
    written = write_articles([question for question in questions if question.doc in docs], articles)
    for stale in set(articles.glob("*.md")) - set(written):  # a fuller earlier run's: ingest drops them
        stale.unlink()
    ingest_paths(settings, [articles])
    questions = asked
    assistant = Assistant(settings)
    extra = [text for lang in ("fi", "sv", "en") for text in (lead_line(lang), quotes_note(lang)) if text]
    records = []
    for question in questions:
        rank = None
        if question.answerable:  # the engine's own ranking of the candidates, as the answer reads them
            looked = assistant.look(question.question)
            ranked = assistant.engine.scores(looked)[1]
            rank = gold_rank([c.text for c in looked.evidence.candidates], [float(v) for v in ranked], question.answers)
        records.append(score(question, assistant.ask(question.question), extra, rank))
        report("ask", 1, len(questions))
    snapshot = assistant.snapshot
    stored = snapshot.sentences([chunk.id for chunk in snapshot.chunks])
    bm25 = SentenceBM25([item.sentence.text for items in stored.values() for item in items])
    record = {"code": provenance.code_version(),
              "dataset": {f"{split}_{kind}": file_hash(dataset / f"{split}_{kind}.jsonl.gz")
                          for kind in ("qa", "unanswerable")},
              **provenance.answering(assistant)}
    return SquadRun(tuple(records), summarize(records), baseline(questions, bm25), settings_record(settings), record,
                    chosen_on_other_articles(settings, split))


def write_squad_outputs(run: SquadRun, out: Path, split: str) -> None:
    """metrics.json, per_question.jsonl and report.md of an answer-mode run."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as handle:
        for record in run.records:
            handle.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    metrics = {"split": split, "product": run.summary, "baselines": run.baselines, "settings": run.settings,
               **({"provenance": run.provenance} if run.provenance else {}),
               **({"chosen_on_other_articles": run.other_articles} if run.other_articles else {})}
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    s = run.summary
    rows = [("Kysy (the product)", s["gold_in_answer"], s["mean_answer_words"])]
    rows += [(name, b["gold_in_answer"], b["mean_answer_words"]) for name, b in run.baselines.items()]
    lines = [
        f"# squad2fi-qa answer mode ({split})", "",
        f"{s['answerable']} answerable and {s['unanswerable']} unanswerable questions about the split's articles, "
        "ingested as documents.", "",
        "| answerer | gold answer in the answer | mean answer words |", "|---|---|---|",
        *(f"| {name} | {_fmt(gold)} | {_fmt(words, 1)} |" for name, gold, words in rows), "",
        f"- answerable questions refused: {_fmt(s['answerable_refused'])}",
        f"- unanswerable questions refused: {_fmt(s['unanswerable_refused'])}",
        f"- answered as partial (the topic is there, the asked fact is not): {_fmt(s['partial'])}",
        "- the candidate item holding the gold answer, by the answer engine's score: "
        + ", ".join(f"in the first {n} {_fmt(s[f'gold_item_in_{n}'])}" for n in GOLD_RANKS)
        + f"; no candidate holds it {_fmt(s['gold_item_none'])}; refused with it first "
        f"{_fmt(s['refused_with_gold_item_first'])}", "",
    ]
    if run.other_articles:
        o = run.other_articles
        lines += [
            "These articles choose the answerability threshold and the selection numbers (`make train`). Chosen "
            "again on one half of them and scored on the other, both ways (`training.json`, from the training's "
            f"own rebuild of each answer): gold answer in the answer {_fmt(o['gold_in_answer'])} at "
            f"{_fmt(o['mean_words'], 1)} words, answerable questions refused {_fmt(o['answerable_refused'])}, "
            f"unanswerable questions refused {_fmt(o['unanswerable_refused'])}.", "",
        ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _fmt(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
