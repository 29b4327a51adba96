"""SIGTERM to ``kysy ingest`` (``kill``, ``docker stop``, a supervisor ending the job) stops it as Ctrl-C does: the
same message, the previous index as it was, and the next run finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
from kysy.settings import Settings
from tests.conftest import cached_embeddings

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ("työllisyys", "liikunta", "kulttuuri", "asuminen", "nuoret", "ikääntyneet", "kotoutuminen",
          "ympäristö", "liikenne", "opetus", "terveys", "turvallisuus")


def _ingest(settings: Settings, corpus: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_CACHE": str(settings.embed_cache_path),
           "KYSY_EMBED_BATCH_SIZE": "4"}  # small batches: the run spends a while embedding, a batch at a time
    return subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", str(corpus), "--json"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.timeout(300)
def test_sigterm_while_embedding_stops_as_ctrl_c_does(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "yhteistyo.txt").write_text(
        "Yhteistyön rakenteet\n\nKunnat ja hyvinvointialueet sopivat yhteistyön rakenteista.\n", encoding="utf-8"
    )
    # An embedding cache of its own, so that the new texts are embedded for real.
    settings = Settings(data_dir=tmp_path / "data", embed_cache=tmp_path / "emb.sqlite")
    ingest_paths(settings, [corpus])
    before = Snapshot(settings.index_path)
    generation, chunks = before.generation, {c.id for c in before.chunks}
    before.close()
    for i, topic in enumerate(TOPICS):
        body = " ".join(f"Alueella {i} {topic} on yhteinen asia ja siitä sovitaan kohdassa {j}." for j in range(10))
        (corpus / f"lisa-{i:02d}.txt").write_text(f"Lisäys {topic}\n\n{body}\n", encoding="utf-8")
    cached = cached_embeddings(settings.embed_cache_path)

    process = _ingest(settings, corpus)
    deadline = time.monotonic() + 240
    while cached_embeddings(settings.embed_cache_path) == cached:
        assert process.poll() is None, process.stderr.read() if process.stderr else "the ingest ended early"
        assert time.monotonic() < deadline, "the ingest embedded nothing new"
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.strip().splitlines()[-1] == (
        "kysy: interrupted; the previous index is intact, run the command again to finish"
    )
    after = Snapshot(settings.index_path)
    assert (after.generation, {c.id for c in after.chunks}) == (generation, chunks)
    after.close()
    # Nothing is left held (the writer lock, the store): the next run finishes the work.
    again = _ingest(settings, corpus)
    _, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr
    assert len(Snapshot(settings.index_path).chunks) > len(chunks)
