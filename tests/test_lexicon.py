"""Word lists kept as data: read once, shared read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.lexicon import word_list, word_set, word_table
from kysy.errors import ConfigError


def _words(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_word_list_drops_comments_blank_lines_and_repeats(tmp_path: Path) -> None:
    directory = _words(tmp_path, "kinds", "# question words\nKuka  person\n\nkuka person\nmissä place # where\n")
    assert word_list("kinds", directory) == ("kuka person", "missä place")
    assert word_set("kinds", directory) == frozenset({"kuka person", "missä place"})


def test_a_word_table_splits_at_a_tab_else_at_the_first_space(tmp_path: Path) -> None:
    directory = _words(tmp_path, "table", "kuinka monta\tcount\nkuka person,who\nyksin\n")
    assert dict(word_table("table", directory)) == {"kuinka monta": "count", "kuka": "person,who", "yksin": ""}


def test_a_word_table_is_built_once_and_cannot_be_changed_by_a_caller(tmp_path: Path) -> None:
    directory = _words(tmp_path, "shared", "kuka person\n")
    table = word_table("shared", directory)
    assert word_table("shared", directory) is table
    assert word_set("shared", directory) is word_set("shared", directory)
    with pytest.raises(TypeError):
        table["mikä"] = "thing"  # type: ignore[index]
    assert dict(word_table("shared", directory)) == {"kuka": "person"}


def test_a_missing_word_list_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the word list"):
        word_table("absent", tmp_path)
