"""Every example of docs/integrations.md, run as written against a real server on the bundled corpus."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "integrations.md"
DOC_BASE = "http://127.0.0.1:8000"
BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.DOTALL)
# What each example must print, in the order of the document.
EXPECTED = [
    ["127 000", "**Lähteet**", "dia 9", "/file#page=9", "total_tokens"],
    ["Kuntaliitto", "**Lähteet**"],
    ["127 000", "dia 9"],
    ['"object":"chat.completion"', "127 000", "Lähteet"],
    ['"citations"', "Kuntaliitto", '"label"'],
]


def _examples() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_document_has_the_examples_the_tests_expect() -> None:
    kinds = [kind for kind, _ in _examples()]
    assert kinds == ["python", "python", "python", "sh", "sh"]


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_an_example_runs_as_written(index: int, live_server: str, corpus_index: Settings) -> None:
    kind, code = _examples()[index]
    code = code.replace(DOC_BASE, live_server)
    env = {
        **os.environ, "KYSY_DATA_DIR": str(corpus_index.data_dir), "KYSY_EMBED_CACHE": str(corpus_index.embed_cache_path),
        "KYSY_PUBLIC_URL": live_server,
    }
    argv = [sys.executable, "-c", code] if kind == "python" else ["bash", "-euo", "pipefail", "-c", code]
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    for expected in EXPECTED[index]:
        assert expected in run.stdout, (expected, run.stdout[-3000:])
