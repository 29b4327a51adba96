"""Evaluation outputs: metrics.json, per-item JSONL, report.md and PNG plots."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_previous(out: Path) -> dict[str, Any] | None:
    """The metrics.json of the previous run in ``out``, if one is there and readable."""
    path = out / "metrics.json"
    if not path.is_file():
        return None
    try:
        previous: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("previous %s is unreadable; no comparison", path)
        return None
    return previous


def write_beir_outputs(result: Any, summary: dict[str, Any], out: Path, *, embedded: int) -> None:
    """Write metrics.json, per_query.jsonl, report.md and recall_at_k.png of a BEIR run."""
    out.mkdir(parents=True, exist_ok=True)
    previous = _read_previous(out)
    metrics = {**summary, "timestamp": _now(), "note": result.note, "embedded_this_run": embedded}
    with (out / "per_query.jsonl").open("w", encoding="utf-8") as handle:
        for name, by_query in result.ranked.items():
            for qid, ids in by_query.items():
                handle.write(json.dumps({"query_id": qid, "retriever": name, "ranked": ids[:100]}) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
