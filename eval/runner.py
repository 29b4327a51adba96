"""The question-set evaluation: every retriever over the same questions, then the product's answers."""

from __future__ import annotations

import json
from pathlib import Path

from kysy.settings import Settings

_SECRETS = ("llm_api_key", "admin_token")


def settings_record(settings: Settings) -> dict[str, object]:
    """Every setting as JSON-safe values, with secrets left out."""
    record = json.loads(settings.model_dump_json())
    for name in _SECRETS:
        record.pop(name, None)
    record["data_dir"] = str(Path(settings.data_dir))
    return record
