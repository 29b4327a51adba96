"""Ingest progress where nobody watches a terminal: periodic plain lines, not silence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli.progress import progress_lines

ROOT = Path(__file__).resolve().parent.parent


def test_lines_come_at_the_start_every_interval_and_at_the_end() -> None:
    lines: list[str] = []
    advance = progress_lines({"embed": "Embedding"}, every_s=3600, out=lines.append)
    for _ in range(10):
        advance("embed", 10, 100)
    assert lines == ["Embedding: 10/100 (10 %), 0 s", "Embedding: 100/100 (100 %), 0 s"]
    every_time = progress_lines({}, every_s=0, out=lines.append)
    every_time("parse", 1, 3)
    every_time("parse", 1, 3)
    assert lines[-1].startswith("parse: 2/3 (66 %)")


def test_kysy_ingest_to_a_log_writes_progress_lines(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Otsikko\n\nKunta ja hyvinvointialue tekevät yhteistyötä.\n", encoding="utf-8")
    env = {**os.environ, "KYSY_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(corpus)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Reading files: 1/1 (100 %)" in run.stderr and "Embedding passages and sentences: " in run.stderr
