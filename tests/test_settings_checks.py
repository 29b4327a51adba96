"""The settings checks a deployer meets: a value that would misbehave quietly (an empty host listening on every
interface, an origin no browser sends, a CSP source that breaks the header, a model that cannot load) stops
every command at start, in one line naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.rerank import make_reranker
from kysy.errors import ConfigError
from kysy.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
# Each bad value with the one line that names it: checked by every command, and all reported at once.
BAD = {
    "KYSY_HOST": ("", "must not be empty: set 127.0.0.1 to listen on this machine only, or 0.0.0.0 on every interface"),
    "KYSY_DATA_DIR": ("", "must name a directory, not be empty (empty would be the current directory)"),
    "KYSY_CORPUS_DIR": (" ", "must name a directory, not be empty (empty would be the current directory)"),
    "KYSY_PUBLIC_URL": ("kysy.kunta.fi", "must be an http(s) address such as https://kysy.example.fi"),
    "KYSY_ANALYZER": ("foo", "must be one of auto, voikko, simplemma"),
    "KYSY_VOCABULARY": ("/nonexistent.tsv", "cannot read the vocabulary file: No such file or directory"),
    "KYSY_CORS_ORIGINS": (
        "https://www.kunta.fi/,www.kunta.fi",
        "'www.kunta.fi': not an origin; list each as a browser sends it, http(s)://host[:port] with no path "
        "(e.g. https://www.kunta.fi), or *",
    ),
    "KYSY_FRAME_ANCESTORS": (
        "'self' javascript:",
        "'javascript:': not a frame-ancestors source; use 'self', 'none', *, https: or [https://][*.]host[:port] "
        "with no path, separated by spaces",
    ),
    "KYSY_LLM_BASE_URL": ("localhost:8080/v1", "must be an http(s) address such as http://127.0.0.1:8080/v1"),
}


@pytest.fixture(autouse=True)
def _no_kysy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("KYSY_")]:
        monkeypatch.delenv(name)


def _kysy(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("KYSY_")}
    # Run elsewhere than the checkout: a data directory that falls back to "." must not land in it.
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )


def _problem(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["ingest", "corpus"], ["ask", "Mikä on hanke?"]])
def test_every_command_refuses_each_bad_value_in_one_line_naming_it(tmp_path: Path, command: list[str]) -> None:
    result = _kysy(tmp_path, *command, **{name: value for name, (value, _) in BAD.items()})
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(BAD), result.stderr
    for name, (value, rule) in BAD.items():
        assert f"kysy: {name}={value!r}: {rule}" in lines
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("host", ["", "  "])
def test_an_empty_host_is_refused_never_every_interface(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    assert "0.0.0.0 on every interface" in _problem(monkeypatch, KYSY_HOST=host)
    with pytest.raises(ConfigError, match=r"^--host='': must not be empty"):
        load_settings(host="")
    monkeypatch.delenv("KYSY_HOST")
    assert load_settings().host == "127.0.0.1"


def test_an_empty_data_dir_flag_is_refused(tmp_path: Path) -> None:
    result = _kysy(tmp_path, "--data-dir", "", "ask", "Mikä on hanke?")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "kysy: --data-dir='': must name a directory, not be empty (empty would be the current directory)"
    ]


def test_cors_origins_are_kept_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSY_CORS_ORIGINS", " https://WWW.Kunta.fi/ , http://intra.kunta.fi:80,https://a.fi:8443/,*")
    assert load_settings().cors_origins == ["https://www.kunta.fi", "http://intra.kunta.fi", "https://a.fi:8443", "*"]


@pytest.mark.parametrize("entry", ["www.kunta.fi", "https://www.kunta.fi/sivu", "ftp://kunta.fi", "https://*.kunta.fi",
                                   "https://kunta.fi:99999", "https://", "null"])
def test_an_entry_that_is_no_origin_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    problem = _problem(monkeypatch, KYSY_CORS_ORIGINS=f"https://ok.fi,{entry}")
    assert problem.startswith(f"KYSY_CORS_ORIGINS='https://ok.fi,{entry}': {entry!r}: not an origin"), problem


def test_frame_ancestors_take_a_csp_source_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSY_FRAME_ANCESTORS", "'self'  https://www.kunta.fi/ *.kunta.fi https: http://localhost:8080")
    assert load_settings().frame_ancestors == "'self' https://www.kunta.fi *.kunta.fi https: http://localhost:8080"
    monkeypatch.setenv("KYSY_FRAME_ANCESTORS", "'NONE'")
    assert load_settings().frame_ancestors == "'none'"


@pytest.mark.parametrize(("value", "problem"), [
    ("https://a.fi; script-src *", "'https://a.fi;': not a frame-ancestors source"),
    ("https://a.fi,https://b.fi", "'https://a.fi,https://b.fi': not a frame-ancestors source"),
    ("'unsafe-inline'", "\"'unsafe-inline'\": not a frame-ancestors source"),
    ("javascript: data:", "'javascript:', 'data:': not a frame-ancestors source"),
    ("https://a.fi/kysy", "'https://a.fi/kysy': not a frame-ancestors source"),
    ("https://a.fi\r\nX-Evil: 1", "must not hold a control character"),
    ("'self'\thttps://a.fi", "must not hold a control character"),
    ("", "must not be empty"),
    ("'none' https://a.fi", "'none' must stand alone"),
])
def test_frame_ancestors_that_would_break_the_csp_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    assert _problem(monkeypatch, KYSY_FRAME_ANCESTORS=value).startswith(f"KYSY_FRAME_ANCESTORS={value!r}: {problem}")


@pytest.mark.parametrize("name", ["KYSY_GLOSSARY", "KYSY_VOCABULARY", "KYSY_SYNONYMS"])
def test_word_lists_must_be_readable_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    kind = name.removeprefix("KYSY_").lower()
    assert _problem(monkeypatch, **{name: str(tmp_path)}) == (
        f"{name}={str(tmp_path)!r}: cannot read the {kind} file: Is a directory"
    )
    assert _problem(monkeypatch, **{name: ""}) == f"{name}='': must name a file, not be empty; unset it for the bundled one"


def test_generative_mode_needs_a_model_and_an_http_address(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _problem(monkeypatch, KYSY_LLM_BASE_URL="http://127.0.0.1:8080/v1") == (
        "KYSY_LLM_MODEL='': must name the model when KYSY_LLM_BASE_URL is set"
    )
    monkeypatch.setenv("KYSY_LLM_MODEL", "qwen")
    assert load_settings().llm_model == "qwen"
    assert _problem(monkeypatch, KYSY_LLM_BASE_URL="127.0.0.1:8080/v1").startswith(
        "KYSY_LLM_BASE_URL='127.0.0.1:8080/v1': must be an http(s) address"
    )


def test_a_reranker_that_cannot_load_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^KYSY_RERANKER='{tmp_path}': cannot load a CrossEncoder from it \("):
        make_reranker(str(tmp_path))


def test_the_cli_reports_a_reranker_that_cannot_load_in_one_line(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    env = {"KYSY_DATA_DIR": str(tmp_path / "data"), "KYSY_RERANKER": str(model)}
    result = _kysy(tmp_path, "ask", "Mikä on hanke?", **env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kysy: KYSY_RERANKER='{model}': cannot load"), result.stderr
    result = _kysy(tmp_path, "ask", "--json", "Mikä on hanke?", **env)
    error = json.loads(result.stdout)
    assert result.returncode == 1 and error["error"] == "config_error"
    assert error["message"].startswith(f"KYSY_RERANKER='{model}': cannot load")


def test_serve_refuses_a_reranker_that_cannot_load_before_it_starts(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    env = {"KYSY_DATA_DIR": str(tmp_path / "data"), "KYSY_RERANKER": str(model), "KYSY_PORT": "1"}
    result = _kysy(tmp_path, "serve", **env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"kysy: KYSY_RERANKER='{model}': cannot load"), result.stderr
