"""Incremental ingestion: add, change, delete, failures, the lock, and interruption by kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from ingest.embed import make_embedder
from ingest.lock import writer_lock
from ingest.pipeline import ingest_paths, scan
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.errors import IndexLockedError, IndexNotBuiltError
from kysy.settings import Settings
from tests.conftest import cached_embeddings

ROOT = Path(__file__).resolve().parents[1]

PARAGRAPHS = [
    "Kunnat ja hyvinvointialueet sopivat yhteistyön rakenteista ja johtamisesta.",
    "Hyvinvoinnin ja terveyden edistäminen on kuntien ja hyvinvointialueiden yhteinen tehtävä.",
    "Etelä-Karjalassa yhdyspintatyötä on tehty pitkään ilman erillisiä sopimuksia.",
    "Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen.",
    "Työllisyyden edistäminen edellyttää toimivaa yhteistyötä työvoimaviranomaisten kanssa.",
]


def _write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def _corpus(directory: Path, files: int = 3) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        text = "\n\n".join(PARAGRAPHS[(i + j) % len(PARAGRAPHS)] for j in range(3))
        _write(directory, f"uutinen-{i}.txt", f"Uutinen {i}\n\n{text}\n")
    return directory


@pytest.fixture
def settings(tmp_path: Path, embed_cache: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embed_cache=embed_cache)


def _vector_ids(settings: Settings) -> set[str]:
    return VectorStore(settings, make_embedder(settings.embedder)).ids()


def test_first_run_adds_every_file_and_both_indexes_agree(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus")
    report = ingest_paths(settings, [corpus])
    assert sorted(report.added) == ["uutinen-0.txt", "uutinen-1.txt", "uutinen-2.txt"]
    assert report.failed == () and report.chunks >= 3
    snapshot = Snapshot(settings.index_path)
    assert {c.id for c in snapshot.chunks} == _vector_ids(settings)
    assert len(snapshot.keyword) == len(snapshot.chunks) == report.chunks


def test_a_line_three_pages_repeat_is_the_template_and_a_shared_sentence_is_not(tmp_path: Path,
                                                                                settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus")  # each of the three files holds PARAGRAPHS[2], a sentence
    files = sorted(corpus.glob("*.txt"))
    for path in files:
        path.write_text(path.read_text(encoding="utf-8") + "\nLöydä lisää sisältöä samoista teemoista\n",
                        encoding="utf-8")
    for path in files[:2]:
        path.write_text(path.read_text(encoding="utf-8") + "\nJaa sivu\n", encoding="utf-8")
    ingest_paths(settings, [corpus])
    assert Snapshot(settings.index_path).template_lines == {"Löydä lisää sisältöä samoista teemoista"}
    files[0].unlink()  # two pages left: a line two pages share is no template
    ingest_paths(settings, [corpus])
    assert Snapshot(settings.index_path).template_lines == frozenset()


def test_a_line_is_the_template_of_its_format_only_when_half_of_that_formats_documents_repeat_it(
        tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=7)
    files = sorted(corpus.glob("*.txt"))
    for i, path in enumerate(files):
        lines = ["Löydä lisää sisältöä samoista teemoista"] * (i < 4) + ["Hyvinvoinnin ja terveyden edistäminen"] * (i >= 4)
        path.write_text(path.read_text(encoding="utf-8") + "".join(f"\n{line}\n" for line in lines), encoding="utf-8")
    for i in range(3):  # three Markdown pages of another site: their own footer is template among them
        _write(corpus, f"sivu-{i}.md", f"# Sivu {i}\n\n{PARAGRAPHS[i]}\n\nTilaa uutiskirje\n")
    ingest_paths(settings, [corpus])
    # four of seven text pages: template; three of seven (a theme a few documents list): content
    assert Snapshot(settings.index_path).template_lines == {"Löydä lisää sisältöä samoista teemoista", "Tilaa uutiskirje"}


def test_rerun_skips_unchanged_files_and_handles_change_and_delete(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus")
    ingest_paths(settings, [corpus])
    again = ingest_paths(settings, [corpus])
    assert sorted(again.unchanged) == ["uutinen-0.txt", "uutinen-1.txt", "uutinen-2.txt"]
    assert again.added == again.updated == again.removed == ()

    _write(corpus, "uutinen-1.txt", "Uutinen 1\n\nRovaniemellä kokeillaan uutta palveluseteliä.\n")
    (corpus / "uutinen-2.txt").unlink()
    report = ingest_paths(settings, [corpus])
    assert report.updated == ("uutinen-1.txt",) and report.removed == ("uutinen-2.txt",)
    assert report.unchanged == ("uutinen-0.txt",)

    snapshot = Snapshot(settings.index_path)
    files = {c.file for c in snapshot.chunks}
    assert files == {"uutinen-0.txt", "uutinen-1.txt"}
    assert any("palveluseteliä" in c.text for c in snapshot.chunks)
    assert {c.id for c in snapshot.chunks} == _vector_ids(settings)


def test_touching_a_file_without_changing_it_is_unchanged(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=1)
    ingest_paths(settings, [corpus])
    os.utime(corpus / "uutinen-0.txt", (time.time() + 5, time.time() + 5))
    assert ingest_paths(settings, [corpus]).unchanged == ("uutinen-0.txt",)


def test_a_broken_file_is_reported_and_the_others_still_land(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    (corpus / "rikki.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    (corpus / "tyhja.txt").write_bytes(b"")
    report = ingest_paths(settings, [corpus])
    assert sorted(report.added) == ["uutinen-0.txt", "uutinen-1.txt"]
    failed = {f.file: f.error for f in report.failed}
    assert set(failed) == {"rikki.pdf", "tyhja.txt"}
    assert all(reason for reason in failed.values())


def test_a_file_no_loader_can_handle_fails_alone_with_its_reason(tmp_path: Path, settings: Settings) -> None:
    # A name in Latin-1 bytes (copied from an old share) is not UTF-8: loading it fails in no loader's own terms.
    corpus = _corpus(tmp_path / "corpus", files=2)
    odd = os.fsdecode(b"\xe4iti.txt")
    (corpus / odd).write_text("Äiti\n\nTeksti äideistä ja kunnista.\n", encoding="utf-8")
    report = ingest_paths(settings, [corpus])
    assert sorted(report.added) == ["uutinen-0.txt", "uutinen-1.txt"]
    [failed] = report.failed
    assert failed.file == "\ufffditi.txt" and odd != failed.file and failed.error == "\ufffditi.txt: the file name is not UTF-8; rename the file to index it"
    assert {c.file for c in Snapshot(settings.index_path).chunks} == {"uutinen-0.txt", "uutinen-1.txt"}


def test_hidden_folders_are_not_walked_so_one_vanishing_meanwhile_breaks_no_scan(tmp_path: Path) -> None:
    # An upload's staging folder (corpus/.upload-*) comes and goes while the admin list or a job scans the corpus.
    corpus = _corpus(tmp_path / "corpus", files=2)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            staging = corpus / ".upload-churn"
            for i in range(5):
                (staging / f"{i}" / "a" / "b" / "c").mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(300):
            found, _, skipped = scan([corpus])
            assert sorted(f.name for f in found) == ["uutinen-0.txt", "uutinen-1.txt"] and not skipped
    finally:
        stop.set()
        churner.join()


def test_a_file_that_breaks_later_keeps_its_previous_version(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    ingest_paths(settings, [corpus])
    (corpus / "uutinen-0.txt").write_bytes(b"\x00\x01\x02 binary junk \xff\xfe\x00")
    report = ingest_paths(settings, [corpus])
    assert [f.file for f in report.failed] == ["uutinen-0.txt"]
    assert "uutinen-0.txt" in {c.file for c in Snapshot(settings.index_path).chunks}


def test_changed_chunking_settings_reprocess_everything(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    ingest_paths(settings, [corpus])
    changed = settings.model_copy(update={"chunk_target_words": 100})
    assert sorted(ingest_paths(changed, [corpus]).updated) == ["uutinen-0.txt", "uutinen-1.txt"]


def test_rebuild_reprocesses_everything(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    ingest_paths(settings, [corpus])
    assert sorted(ingest_paths(settings, [corpus], rebuild=True).updated) == ["uutinen-0.txt", "uutinen-1.txt"]


def test_ingesting_one_file_does_not_remove_the_rest(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    ingest_paths(settings, [corpus])
    extra = _write(tmp_path, "erillinen.txt", "Erillinen\n\nMaakuntien liittojen rooli vaihtelee.\n")
    report = ingest_paths(settings, [extra])
    assert report.added == ("erillinen.txt",) and report.removed == ()
    assert {c.file for c in Snapshot(settings.index_path).chunks} == {
        "uutinen-0.txt", "uutinen-1.txt", "erillinen.txt"
    }


def test_corpus_readme_and_sources_json_are_not_documents(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=1)
    _write(corpus, "README.md", "# Aineisto\n\nTämä kansio sisältää aineiston.\n")
    _write(corpus, "sources.json", json.dumps({"documents": [
        {"file": "uutinen-0.txt", "title": "Oikea otsikko", "kind": "uutinen", "year": 2024,
         "url": "https://example.org/uutinen"}
    ]}))
    assert ingest_paths(settings, [corpus]).added == ("uutinen-0.txt",)
    [info] = Snapshot(settings.index_path).documents.values()
    assert (info.title, info.url, info.year) == ("Oikea otsikko", "https://example.org/uutinen", 2024)


def test_a_second_concurrent_ingest_refuses_and_names_the_lock(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=1)
    with writer_lock(settings.lock_path), pytest.raises(IndexLockedError, match="ingest.lock"):
        ingest_paths(settings, [corpus])
    assert ingest_paths(settings, [corpus]).added == ("uutinen-0.txt",)


def test_the_cli_refuses_while_another_process_holds_the_lock(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=1)
    with writer_lock(settings.lock_path):
        result = _cli(["ingest", str(corpus), "--json"], settings)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "index_locked"


def test_reading_before_any_ingest_says_what_to_do(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(IndexNotBuiltError, match="kysy ingest"):
        Snapshot(tmp_path / "data" / "index.sqlite")


def _cli(args: list[str], settings: Settings, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir)}
    if settings.embed_cache:
        env["KYSY_EMBED_CACHE"] = str(settings.embed_cache)
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=600, **kwargs,
    )


def test_cli_json_output_and_exit_status(tmp_path: Path, settings: Settings) -> None:
    corpus = _corpus(tmp_path / "corpus", files=1)
    (corpus / "rikki.pdf").write_bytes(b"not a pdf at all")
    result = _cli(["ingest", str(corpus), "--json"], settings)
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "added", "updated", "unchanged", "removed", "failed", "skipped", "reembedded", "warnings", "chunks", "seconds"
    }
    assert report["skipped"] == []
    assert report["added"] == ["uutinen-0.txt"] and report["failed"][0]["file"] == "rikki.pdf"
    ok = _cli(["ingest", str(corpus / "uutinen-0.txt"), "--json"], settings)
    assert ok.returncode == 0 and json.loads(ok.stdout)["unchanged"] == ["uutinen-0.txt"]


def test_kill_9_during_embedding_keeps_the_previous_index_and_the_next_run_completes(
    tmp_path: Path, settings: Settings
) -> None:
    corpus = _corpus(tmp_path / "corpus", files=2)
    ingest_paths(settings, [corpus])
    before = {c.id for c in Snapshot(settings.index_path).chunks}
    token = uuid.uuid4().hex[:8]  # new text, so the shared embedding cache cannot skip the work
    for i in range(12):
        body = " ".join(f"{PARAGRAPHS[(i + j) % 5]} Lisätieto {token} {i}-{j}." for j in range(12))
        _write(corpus, f"lisa-{i:02d}.txt", f"Lisäys {i}\n\n{body}\n")
    private = settings.model_copy(update={"embed_cache": tmp_path / "private-emb.sqlite"})
    env = {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_CACHE": str(private.embed_cache)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ingest", str(corpus), "--json"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while cached_embeddings(private.embed_cache) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    snapshot = Snapshot(settings.index_path)
    assert {c.id for c in snapshot.chunks} == before
    assert len(snapshot.keyword) == len(before)
    report = ingest_paths(private, [corpus])
    assert report.failed == () and len(report.added) == 12
    final = Snapshot(settings.index_path)
    assert len({c.file for c in final.chunks}) == 14 and report.chunks == len(final.chunks)
    assert {c.id for c in final.chunks} == _vector_ids(settings)


def _stored_sentence_vectors(settings: Settings) -> dict[str, object]:
    snapshot = Snapshot(settings.index_path)
    try:
        stored = snapshot.sentences([c.id for c in snapshot.chunks])
        return {f"{cid}/{s.sentence.ord}": s.vector for cid, rows in stored.items() for s in rows}
    finally:
        snapshot.close()


def test_late_chunking_embeds_each_chunk_once_and_pools_its_sentences(tmp_path: Path, settings: Settings) -> None:
    import numpy as np

    from ingest.embed_cache import EmbeddingCache

    corpus = _corpus(tmp_path / "corpus", files=2)
    late = settings.model_copy(update={"embed_cache": tmp_path / "late.sqlite", "late_chunking": True})
    ingest_paths(late, [corpus])
    cache = EmbeddingCache(late.embed_cache_path, make_embedder(late.embedder))
    models = dict(cache._db.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model").fetchall())
    cache.close()
    key = cache.model
    vectors = _stored_sentence_vectors(late)
    chunks = len(Snapshot(late.index_path).chunks)
    # one passage vector per chunk and a span vector per sentence; no sentence embedded on its own
    assert key.startswith("e5-onnx@c") and models == {key: chunks, f"{key}+span": len(vectors)}
    assert all(v is not None and abs(float(np.linalg.norm(v)) - 1.0) < 1e-2 for v in vectors.values())

    apart = late.model_copy(update={"late_chunking": False})
    report = ingest_paths(apart, [corpus])
    assert sorted(report.updated) == ["uutinen-0.txt", "uutinen-1.txt"]  # the switch re-embeds
    separate = _stored_sentence_vectors(apart)
    assert separate.keys() == vectors.keys()
    # pooled from the chunk or embedded alone, a sentence's vector points the same way
    assert min(float(np.dot(vectors[k], separate[k])) for k in vectors) > 0.8  # type: ignore[arg-type]


def test_every_sentence_also_gets_a_vector_read_under_its_title_and_heading(tmp_path: Path, settings: Settings) -> None:
    import numpy as np

    from ingest.pipeline import in_context

    corpus = _corpus(tmp_path / "corpus", files=1)
    ingest_paths(settings, [corpus])
    snapshot = Snapshot(settings.index_path)
    try:
        titles = {c.id: c.title for c in snapshot.chunks}
        stored = [s for rows in snapshot.sentences(list(titles)).values() for s in rows]
    finally:
        snapshot.close()
    assert stored and all(s.vector is not None and s.context is not None for s in stored)
    embedder = make_embedder(settings.embedder)
    first = stored[0]
    text = in_context(titles[first.sentence.chunk_id], first.sentence)
    assert text.startswith(titles[first.sentence.chunk_id]) and text.endswith(first.sentence.text)
    # the stored context vector is the contextual text's passage vector (float16 in the index), not the item's own
    assert float(np.dot(first.context, embedder.embed_passages([text])[0])) > 0.999  # type: ignore[arg-type]
    assert float(np.dot(first.context, first.vector)) < 0.99  # type: ignore[arg-type]


def test_an_index_written_before_context_vectors_is_read_and_migrated(tmp_path: Path, settings: Settings) -> None:
    import sqlite3

    from assistant.service import Assistant
    from ingest.store import IndexStore

    ingest_paths(settings, [_corpus(tmp_path / "corpus", files=1)])
    db = sqlite3.connect(settings.index_path)
    db.execute("ALTER TABLE sentences DROP COLUMN context")
    db.commit()
    db.close()
    old = Snapshot(settings.index_path)
    try:
        stored = [s for rows in old.sentences([c.id for c in old.chunks]).values() for s in rows]
    finally:
        old.close()
    assert stored and all(s.vector is not None and s.context is None for s in stored)
    # it still answers, the item's own vector standing in for the missing one
    answer = Assistant(settings).ask("Miten Etelä-Karjalassa on tehty yhdyspintatyötä?")
    assert not answer.not_found and "ilman erillisiä sopimuksia" in answer.text
    IndexStore(settings.index_path).close()  # the writer adds the column; the next ingest fills it
    db = sqlite3.connect(settings.index_path)
    assert "context" in {row[1] for row in db.execute("PRAGMA table_info(sentences)")}
    db.close()
