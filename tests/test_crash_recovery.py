"""Crashes: ``kill -9`` of ``kysy ingest`` while parsing, embedding and committing; two ingests at once;
a server restart; a full or read-only disk. The previous index always keeps answering, and the
next run completes with the same chunks as a clean ingest."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.service import Assistant
from ingest.embed import make_embedder
from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.settings import Settings
from tests import kysy_process
from tests.conftest import CORPUS, cached_embeddings
from tests.test_hostile_files import paged_pdf, text_op

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "uutinen-0.txt": "Yhteistyön rakenteet\n\nKunnat ja hyvinvointialueet sopivat yhteistyön rakenteista ja "
    "johtamisesta. Yhteistyöryhmä kokoontuu neljä kertaa vuodessa.\n",
    "uutinen-1.txt": "Lapin pilotti\n\nLapin pilotissa painopisteinä ovat turvallisuus ja varautuminen. "
    "Pilotti kesti kaksi vuotta.\n",
}
QUESTIONS = ("Kuinka usein yhteistyöryhmä kokoontuu?", "Mitkä ovat Lapin pilotin painopisteet?")
TOPICS = ("työllisyys", "liikunta", "kulttuuri", "asuminen", "nuoret", "ikääntyneet", "kotoutuminen",
          "ympäristö", "liikenne", "opetus", "terveys", "turvallisuus")


def heavy_pdf(pages: int = 200, hidden_ops: int = 200) -> bytes:
    """A PDF that is slow to parse (thousands of white text runs) but has one visible sentence."""
    contents = []
    for n in range(pages):
        hidden = b"\n".join(
            text_op(f"piilo {n} {k}", 700 - k % 600, prefix="1 1 1 rg") for k in range(hidden_ops)
        )
        visible = text_op("Raportin johdanto kertoo kuntien yhteistyosta.", 750) if n == 0 else b""
        contents.append(visible + b"\n" + hidden)
    return paged_pdf(contents)


def write_additions(corpus: Path) -> None:
    """New material for the interrupted run: a slow PDF (parsed first) and a dozen texts to embed."""
    (corpus / "0-raportti.pdf").write_bytes(heavy_pdf())
    for i, topic in enumerate(TOPICS):
        body = " ".join(
            f"Alueella {i} {topic} on yhteinen asia ja siitä sovitaan kohdassa {j}." for j in range(10)
        )
        (corpus / f"lisa-{i:02d}.txt").write_text(f"Lisäys {topic}\n\n{body}\n", encoding="utf-8")


def _base_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name, text in BASE.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _answers(settings: Settings) -> list[tuple[str, tuple[tuple[str, int | None, str], ...]]]:
    assistant = Assistant(settings)
    try:
        return [
            (answer.text, tuple((c.file, c.page, c.quote) for c in answer.citations))
            for answer in map(assistant.ask, QUESTIONS)
        ]
    finally:
        assistant.snapshot.close()


def _vector_ids(settings: Settings) -> set[str]:
    return VectorStore(settings, make_embedder(settings.embedder)).ids()


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_BATCH_SIZE": str(settings.embed_batch_size)
    }
    if settings.embed_cache:
        env["KYSY_EMBED_CACHE"] = str(settings.embed_cache)
    return env


def _start_ingest(settings: Settings, corpus: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ingest", str(corpus), "--json"], env=_env(settings), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _wait_for(process: subprocess.Popen[str], condition: Callable[[], bool], timeout: float = 120) -> bool:
    """Poll ``condition`` until it holds (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("the ingest neither reached the stage nor ended")


def _kill(process: subprocess.Popen[str]) -> None:
    children = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for child in children:  # the parse worker dies with its parent's pipe; make sure at once
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


@dataclass(frozen=True)
class Stage:
    """A crash scenario: its settings (data directory, embedding cache) and the grown corpus."""

    settings: Settings
    corpus: Path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], Path]:
    """The full corpus, the chunk ids of a clean ingest of it, and a cache warm for all of it."""
    root = tmp_path_factory.mktemp("crash")
    corpus = _base_corpus(root / "corpus")
    write_additions(corpus)
    cache = root / "warm-emb.sqlite"
    settings = Settings(data_dir=root / "reference", embed_cache=cache)
    report = ingest_paths(settings, [corpus])
    assert report.failed == ()
    return corpus, {c.id for c in Snapshot(settings.index_path).chunks}, cache


def _prepare(tmp_path: Path, reference: tuple[Path, set[str], Path], *, cold: bool) -> Stage:
    """A data directory holding an index of the base files only; the corpus now has the additions."""
    corpus, _, warm = reference
    cache = tmp_path / "cold-emb.sqlite" if cold else tmp_path / "emb.sqlite"
    if not cold:
        shutil.copy(warm, cache)
    # Small batches when embedding for real, so the run spends several cache commits embedding.
    settings = Settings(data_dir=tmp_path / "data", embed_cache=cache, embed_batch_size=4 if cold else 32)
    ingest_paths(settings, [corpus / name for name in BASE])
    return Stage(settings, corpus)


def _after_kill_then_finish(stage: Stage, before_ids: set[str], before_answers: list, ref_ids: set[str]) -> str:
    """Check the state a kill left, finish with a normal run; return what the kill had hit."""
    snapshot = Snapshot(stage.settings.index_path)
    ids = {c.id for c in snapshot.chunks}
    committed = snapshot.generation > 1
    snapshot.close()
    if committed:
        assert ids == ref_ids, "a committed index must be the complete new one"
    else:
        assert ids == before_ids, "an uncommitted run must leave the previous index exactly"
        assert _answers(stage.settings) == before_answers
    report = ingest_paths(stage.settings, [stage.corpus])
    assert report.failed == ()
    assert report.chunks == len(ref_ids)
    final = {c.id for c in Snapshot(stage.settings.index_path).chunks}
    assert final == ref_ids
    assert _vector_ids(stage.settings) == final
    return "after commit" if committed else "before commit"


@pytest.mark.timeout(300)
def test_kill_9_while_parsing_a_slow_pdf(tmp_path: Path, reference: tuple[Path, set[str], Path]) -> None:
    stage = _prepare(tmp_path, reference, cold=False)
    before_ids = {c.id for c in Snapshot(stage.settings.index_path).chunks}
    before_answers = _answers(stage.settings)
    process = _start_ingest(stage.settings, stage.corpus)
    # The parse worker is spawned for the first PDF, which sorts before every text file.
    reached = _wait_for(process, lambda: bool(_children(process.pid)))
    assert reached, "the ingest ended before it started parsing the PDF"
    time.sleep(0.5)
    _kill(process)
    assert _after_kill_then_finish(stage, before_ids, before_answers, reference[1]) == "before commit"


@pytest.mark.timeout(300)
def test_kill_9_while_embedding(tmp_path: Path, reference: tuple[Path, set[str], Path]) -> None:
    stage = _prepare(tmp_path, reference, cold=True)
    cache = stage.settings.embed_cache_path
    base_rows = cached_embeddings(cache)
    before_ids = {c.id for c in Snapshot(stage.settings.index_path).chunks}
    before_answers = _answers(stage.settings)
    process = _start_ingest(stage.settings, stage.corpus)
    reached = _wait_for(process, lambda: cached_embeddings(cache) > base_rows)
    assert reached, "the ingest ended before embedding anything new"
    _kill(process)
    rows = cached_embeddings(cache)
    assert rows > base_rows, "the batches embedded before the kill stay cached"
    assert _after_kill_then_finish(stage, before_ids, before_answers, reference[1]) == "before commit"
    assert cached_embeddings(cache) > rows


@pytest.mark.timeout(300)
def test_kill_9_while_writing_the_index(tmp_path: Path, reference: tuple[Path, set[str], Path]) -> None:
    """Killed as soon as the index database starts to change: inside the commit, or just after it."""
    stage = _prepare(tmp_path, reference, cold=False)
    before_ids = {c.id for c in Snapshot(stage.settings.index_path).chunks}
    before_answers = _answers(stage.settings)
    wal = Path(f"{stage.settings.index_path}-wal")

    def signature() -> tuple[int, int]:
        try:
            info = wal.stat()
        except FileNotFoundError:
            return (0, 0)
        return (info.st_size, info.st_mtime_ns)

    start = signature()
    process = _start_ingest(stage.settings, stage.corpus)
    reached = _wait_for(process, lambda: signature() != start)
    assert reached, "the ingest ended without the test seeing the index change"
    _kill(process)
    hit = _after_kill_then_finish(stage, before_ids, before_answers, reference[1])
    logger.warning("kill -9 as the index changed landed %s", hit)
    assert hit in ("before commit", "after commit")


@pytest.mark.timeout(300)
def test_two_ingests_at_once_the_second_refuses_and_nothing_breaks(
    tmp_path: Path, reference: tuple[Path, set[str], Path]
) -> None:
    stage = _prepare(tmp_path, reference, cold=False)
    first = _start_ingest(stage.settings, stage.corpus)
    lock = stage.settings.lock_path
    assert _wait_for(first, lambda: bool(_children(first.pid)) and lock.read_text().strip() == str(first.pid))
    second = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(stage.corpus), "--json"], env=_env(stage.settings),
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert first.poll() is None, "the first ingest should still be running"
    assert second.returncode == 1
    error = json.loads(second.stdout)
    assert error["error"] == "index_locked" and str(first.pid) in error["message"]
    out, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    assert json.loads(out)["chunks"] == len(reference[1])
    final = {c.id for c in Snapshot(stage.settings.index_path).chunks}
    assert final == reference[1] == _vector_ids(stage.settings)


# --- server restart -------------------------------------------------------------------------

RESTART_QUESTIONS = (
    "Mikä on Etelä-Karjalan väestöpohja?",
    "Ketkä rahoittavat yhdyspintahanketta?",
    "Mitä yhdyspinnalla tarkoitetaan?",
    "Miten kunnat ja hyvinvointialueet tekevät yhteistyötä hyvinvoinnin edistämisessä?",
    "Mitä aluepiloteissa kehitetään?",
)


@contextmanager
def kysy_serve(settings: Settings) -> Iterator[str]:
    """``kysy serve`` as a separate process on a free port, once ready; stopped with SIGTERM."""
    # One public address for both servers, so their citation links are the same whatever their ports.
    with kysy_process.kysy_serve(settings, ready="/readyz", KYSY_EMBED_BATCH_SIZE=str(settings.embed_batch_size),
                                 KYSY_PUBLIC_URL="https://kysy.example.fi") as served:
        try:
            yield served.base
        finally:
            with suppress(subprocess.TimeoutExpired):  # killed on leaving kysy_process.kysy_serve
                served.stop(timeout=30)


def _ask_all(base: str) -> list[dict[str, object]]:
    answers = []
    for question in RESTART_QUESTIONS:
        response = httpx.post(f"{base}/api/chat", json={"question": question}, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        answers.append({key: body[key] for key in ("answer", "not_found", "citations")})
    return answers


@pytest.mark.timeout(400)
def test_a_server_restart_gives_the_same_answers(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"corpus_dir": CORPUS})
    with kysy_serve(settings) as base:
        before = _ask_all(base)
    with kysy_serve(settings) as base:
        after = _ask_all(base)
    assert sum(not answer["not_found"] for answer in before) >= 4
    assert after == before


# --- full and read-only disks -------------------------------------------------------------------


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (skips the test where mounting is not permitted)."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'}); "
                    "the StorageError paths are covered by test_storage_error_without_mounting")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _cli_ingest(settings: Settings, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", *map(str, paths), "--json"], env=_env(settings), cwd=ROOT,
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("headroom_kib", [16, 256])
def test_a_full_disk_gives_a_clear_error_and_keeps_the_previous_index(
    tmp_path: Path, reference: tuple[Path, set[str], Path], headroom_kib: int
) -> None:
    corpus, ref_ids, warm = reference
    with small_tmpfs(tmp_path / "mnt", "8m") as mount:
        cache = tmp_path / "emb.sqlite"
        shutil.copy(warm, cache)
        settings = Settings(data_dir=mount / "data", embed_cache=cache)
        ingest_paths(settings, [corpus / name for name in BASE])
        before_ids = {c.id for c in Snapshot(settings.index_path).chunks}
        before_answers = _answers(settings)
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        filler = mount / "filler"
        with filler.open("wb") as handle, suppress(OSError):
            handle.write(b"\0" * max(0, free - headroom_kib * 1024))
        result = _cli_ingest(settings, corpus)
        assert result.returncode == 1, (result.stdout, result.stderr[-2000:])
        error = json.loads(result.stdout)
        assert error["error"] == "storage_error" and str(mount) in error["message"]
        assert "Traceback" not in result.stderr
        filler.unlink()
        snapshot = Snapshot(settings.index_path)
        assert {c.id for c in snapshot.chunks} == before_ids and snapshot.generation == 1
        snapshot.close()
        assert _answers(settings) == before_answers
        report = ingest_paths(settings, [corpus])
        assert report.chunks == len(ref_ids)
        assert {c.id for c in Snapshot(settings.index_path).chunks} == ref_ids == _vector_ids(settings)


@pytest.mark.timeout(300)
def test_a_read_only_data_dir_gives_a_clear_error_and_keeps_the_index(
    tmp_path: Path, reference: tuple[Path, set[str], Path]
) -> None:
    corpus, ref_ids, warm = reference
    with small_tmpfs(tmp_path / "mnt", "16m") as mount:
        settings = Settings(data_dir=mount / "data", embed_cache=tmp_path / "emb.sqlite")
        shutil.copy(warm, tmp_path / "emb.sqlite")
        # Built by another process: a remount to read-only needs no file held open for writing here.
        assert _cli_ingest(settings, *(corpus / name for name in BASE)).returncode == 0
        snapshot = Snapshot(settings.index_path)
        before_ids = {c.id for c in snapshot.chunks}
        snapshot.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        result = _cli_ingest(settings, corpus)
        assert result.returncode == 1
        error = json.loads(result.stdout)
        assert error["error"] == "storage_error" and "Read-only file system" in error["message"]
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        assert {c.id for c in Snapshot(settings.index_path).chunks} == before_ids
        assert ingest_paths(settings, [corpus]).chunks == len(ref_ids)


def test_storage_error_without_mounting(tmp_path: Path) -> None:
    """Where nothing can be mounted: a data directory under a regular file, and an index path that is a directory."""
    corpus = _base_corpus(tmp_path / "corpus")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    result = _cli_ingest(Settings(data_dir=blocker / "data"), corpus)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "storage_error"
    settings = Settings(data_dir=tmp_path / "data")
    settings.index_path.mkdir(parents=True)
    result = _cli_ingest(settings, corpus)
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["error"] == "storage_error" and "index.sqlite" in error["message"]



def test_a_vector_store_write_error_names_the_store(tmp_path: Path) -> None:
    """Chroma's own error on a write (a full disk reaches it as often as the index) says which store it was."""
    from chromadb.errors import InternalError

    from kysy.errors import StorageError

    settings = Settings(data_dir=tmp_path / "data")
    store = VectorStore(settings, make_embedder(settings.embedder))

    class FullDisk:
        def delete(self, ids: list[str]) -> None:
            raise InternalError("database or disk is full")

    store._collection = FullDisk()
    with pytest.raises(StorageError) as caught:
        store.delete(["a-chunk"])
    assert str(settings.chroma_path) in str(caught.value) and "disk is full" in str(caught.value)
