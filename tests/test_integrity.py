"""A damaged index database: ``kysy serve`` and ``kysy ingest`` say so in one line with what rebuilds it, and
``kysy ingest --rebuild`` moves the damaged file aside and builds the index anew."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from ingest.integrity import check_index
from ingest.store import Snapshot
from kysy.errors import IndexDamagedError
from kysy.settings import Settings
from tests.conftest import free_port
from tests.kysy_process import kysy


def damage(path: Path) -> None:
    """4 KB of noise written over the middle of the file, as a disk fault leaves it."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    db.close()
    size = path.stat().st_size
    noise = random.Random(7).randbytes(4096)
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(noise)


@pytest.fixture()
def damaged(corpus_index: Settings, tmp_path: Path) -> tuple[Settings, int]:
    """A copy of the bundled corpus's index, damaged; and how many chunks it held."""
    shutil.copytree(corpus_index.data_dir, tmp_path / "data", ignore=shutil.ignore_patterns("*.lock"))
    settings = corpus_index.model_copy(update={"data_dir": tmp_path / "data"})
    snapshot = Snapshot(settings.index_path)
    chunks = len(snapshot.chunks)
    snapshot.close()
    damage(settings.index_path)
    return settings, chunks


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_serve_and_ingest_say_in_one_line_that_the_index_is_damaged(damaged: tuple[Settings, int]) -> None:
    settings, _ = damaged
    with pytest.raises(IndexDamagedError):
        check_index(settings.index_path)
    for args in (("serve", "--port", str(free_port())), ("ingest", str(settings.corpus_dir))):
        result = kysy(settings, *args)
        assert result.returncode == 1, result.stderr
        line = _one_line(result.stderr)
        assert "is damaged" in line and "kysy ingest --rebuild" in line, line


def test_rebuild_moves_the_damaged_index_aside_and_builds_it_anew(damaged: tuple[Settings, int]) -> None:
    settings, chunks = damaged
    result = kysy(settings, "ingest", "--rebuild", str(settings.corpus_dir))
    assert result.returncode == 0, result.stderr
    aside = list(settings.data_dir.glob("index.sqlite.broken-*"))
    assert len(aside) == 1 and aside[0].name in result.stdout.replace("\n", "")
    check_index(settings.index_path)
    snapshot = Snapshot(settings.index_path)
    assert len(snapshot.chunks) == chunks
    snapshot.close()
