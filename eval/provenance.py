"""What a run needs to be reproduced, beside its settings: the code version, the model files' digests, the
question file's digest, and what the settings left to the code (the analyzer that ran, the thresholds that
applied)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ingest.pipeline import file_hash

_ROOT = Path(__file__).resolve().parent.parent


def code_version(root: Path = _ROOT) -> dict[str, object]:
    """``{"git_commit", "git_dirty"}`` when ``root`` is a git checkout, else ``{"package_version"}``."""
    try:
        commit = _git(root, "rev-parse", "HEAD")
        # --no-optional-locks: only read the index, never refresh it, while others may be committing
        dirty = bool(_git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"))
        return {"git_commit": commit, "git_dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        try:
            return {"package_version": metadata.version("kysy")}
        except metadata.PackageNotFoundError:
            return {"package_version": None}


def _git(root: Path, *args: str) -> str:
    # a git binary found on PATH, reading the checkout the code runs from
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def model_files(paths: Sequence[Path]) -> dict[str, str]:
    """``{path: sha256}`` of the model files a run used (paths relative to the repository where they lie in it)."""
    return {_shown(path): file_hash(path) for path in paths if path.is_file()}


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(_ROOT)) if resolved.is_relative_to(_ROOT) else str(resolved)


def question_file(path: Path) -> dict[str, str]:
    """The question file as given, resolved, and its SHA-256."""
    return {"path": str(path), "resolved": str(path.resolve()), "sha256": file_hash(path)}


def answering(assistant: Any) -> dict[str, Any]:
    """The models, analyzer and thresholds ``assistant`` (an ``assistant.service.Assistant``) answers with."""
    from assistant.answerability import ANSWERABILITY_MODEL
    from assistant.breadth import BREADTH_MODEL
    from assistant.reader import READER_CONFIG, READER_MODEL
    from assistant.scoring import ITEM_MODEL

    settings, engine = assistant.settings, assistant.engine
    record: dict[str, Any] = {"analyzer": assistant.analyzer.name}
    models = [ITEM_MODEL, ANSWERABILITY_MODEL, BREADTH_MODEL]
    if engine.reader is not None:
        models += [READER_MODEL, READER_CONFIG]
        value = float(engine.answerable_threshold)
        if settings.answerable_threshold is not None:
            origin = "setting answerable_threshold (KYSY_ANSWERABLE_THRESHOLD)"
        elif value != engine.answerability.threshold:
            origin = f"{_shown(READER_CONFIG)} (chosen beside the reader)"
        else:
            origin = _shown(ANSWERABILITY_MODEL)
        record["reader_threshold"] = {"value": float(engine.reader.threshold),
                                      "from": "setting reader_threshold (KYSY_READER_THRESHOLD)"
                                      if settings.reader_threshold is not None else _shown(READER_CONFIG)}
    else:
        value = float(engine.answerability.threshold)
        origin = ("setting answerable_threshold (KYSY_ANSWERABLE_THRESHOLD)" if settings.answerable_threshold is not None
                  else _shown(ANSWERABILITY_MODEL))
    record["answerable_threshold"] = {"value": value, "from": origin}
    record["models"] = model_files(models)
    return record
