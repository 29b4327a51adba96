"""``kysy ask`` as a user runs it: a subprocess over a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.api import create_app
from kysy.settings import Settings

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
ROOT = Path(__file__).resolve().parent.parent


def _env(settings: Settings, **extra_env: str) -> dict[str, str]:
    return {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_CACHE": str(settings.embed_cache_path),
            "KYSY_PUBLIC_URL": settings.public_url, **extra_env}


def _kysy(settings: Settings, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=_env(settings, **extra_env),
                          capture_output=True, text=True, timeout=120)


def test_ask_prints_the_answer_and_its_sources(corpus_index: Settings) -> None:
    result = _kysy(corpus_index, "ask", QUESTION)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("\nLähteet:\n")
    assert "127 000" in answer and "[1]" in answer
    lines = sources.strip().splitlines()
    assert lines[0].startswith("[1] ")
    assert any(", dia 9 — " in line and "127 000" in line and "#page=9" in line for line in lines)


def test_ask_json_is_the_api_object(corpus_index: Settings) -> None:
    # With the public address set, the CLI's links are the API's.
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 0, "public_url": "https://kysy.example.fi"})
    result = _kysy(settings, "ask", "--json", QUESTION)
    assert result.returncode == 0, result.stderr
    cli = json.loads(result.stdout)
    with TestClient(create_app(settings)) as client:
        api = client.post("/api/chat", json={"question": QUESTION}).json()
    cli["meta"].pop("ms"), api["meta"].pop("ms")
    assert cli == api


def test_ask_into_a_closed_pipe_stops_quietly(corpus_index: Settings) -> None:
    # `kysy ask ... | head -1`: the reader goes away before the answer is written.
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "ask", QUESTION], cwd=ROOT, env=_env(corpus_index),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_ask_without_an_index_fails_with_a_hint(tmp_path: Path) -> None:
    result = _kysy(Settings(data_dir=tmp_path / "none"), "ask", QUESTION)
    assert result.returncode == 1 and "kysy ingest" in result.stderr and result.stdout == ""
    as_json = _kysy(Settings(data_dir=tmp_path / "none"), "ask", "--json", QUESTION)
    assert json.loads(as_json.stdout)["error"] == "index_not_built"


def test_glossary_lists_the_indexed_words_no_phrase_reaches(corpus_index: Settings, tmp_path: Path) -> None:
    result = _kysy(corpus_index, "glossary", "--json")
    assert result.returncode == 0, result.stderr
    bundled = json.loads(result.stdout)
    assert "yhteistyö" not in {row["word"] for row in bundled["words"]}  # the glossary translates it
    empty = tmp_path / "empty.tsv"
    empty.write_text("fi\tsv\ten\n", encoding="utf-8")
    result = _kysy(corpus_index, "glossary", "--json", KYSY_GLOSSARY=str(empty), KYSY_VOCABULARY=str(empty))
    assert result.returncode == 0, result.stderr
    words = {row["word"]: row["chunks"] for row in json.loads(result.stdout)["words"]}
    assert words["yhteistyö"] > 1 and len(words) > bundled["untranslated"]
