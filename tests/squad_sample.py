"""A tiny squad2fi-qa dataset, corpus and question set on disk, for the training tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

Articles = Mapping[tuple[int, str], Sequence[str]]  # (doc, title) -> its paragraphs


def _rows(articles: Articles, prefix: str, items: Sequence[tuple[int, int, str, str]],
          answerable: bool) -> list[dict[str, object]]:
    """squad2fi-qa rows: (doc, paragraph, question, answer) each; the answer only for answerable ones."""
    titles = {doc: title for doc, title in articles}
    rows: list[dict[str, object]] = []
    for i, (doc, para, question, answer) in enumerate(items):
        context = articles[(doc, titles[doc])][para]
        row: dict[str, object] = {"id": f"{prefix}{i}", "question": question, "context": context, "doc": doc,
                                  "para": para, "title": titles[doc]}
        if answerable:
            row["answers"] = {"text": [answer], "answer_start": [context.index(answer)]}
        rows.append(row)
    return rows


def write_sample(root: Path, articles: Articles, answerable: Sequence[tuple[int, int, str, str]],
                 unanswerable: Sequence[tuple[int, int, str]], docs: Mapping[str, str],
                 own: Sequence[Mapping[str, object]]) -> dict[str, Path]:
    """The same questions as the train and the dev split, the documents as a corpus, ``own`` as the
    question set; returns their paths (``dataset``, ``corpus``, ``questions``) and ``work`` and ``root``."""
    dataset = root / "squad"
    dataset.mkdir()
    splits = {"qa": (answerable, True), "unanswerable": ([(d, p, q, "") for d, p, q in unanswerable], False)}
    for split in ("train", "dev"):
        for name, (items, answers) in splits.items():
            rows = _rows(articles, f"{split}-{name}", items, answers)
            with gzip.open(dataset / f"{split}_{name}.jsonl.gz", "wt", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in docs.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    questions = root / "questions.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in own), encoding="utf-8")
    return {"dataset": dataset, "corpus": corpus, "questions": questions, "work": root / "work", "root": root}
