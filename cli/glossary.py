"""``kysy glossary``: the indexed words a Swedish or English question cannot reach through the glossary."""

from __future__ import annotations

import json

from assistant.translate import load_glossary, untranslated
from ingest.analyze import make_analyzer
from ingest.store import Snapshot
from kysy.settings import Settings


def run_glossary(settings: Settings, *, limit: int, as_json: bool) -> int:
    """Print the index's content words that neither the glossary nor its vocabulary translates; returns
    the exit status (0).

    Raises:
        IndexNotBuiltError: there is no index yet (the CLI prints the message and exits 1).
    """
    snapshot = Snapshot(settings.index_path)
    glossary = load_glossary(settings.glossary, settings.vocabulary)
    missing = untranslated((chunk.text for chunk in snapshot.chunks), glossary, make_analyzer(settings.analyzer))
    shown = missing[:limit] if limit else missing
    if as_json:
        print(json.dumps({"untranslated": len(missing), "words": [{"word": w, "chunks": n} for w, n in shown]},
                         ensure_ascii=False))
    else:
        print(f"{len(missing)} indexed words have no Swedish or English phrase (word, chunks it is in):")
        for word, count in shown:
            print(f"{word}\t{count}")
    return 0
