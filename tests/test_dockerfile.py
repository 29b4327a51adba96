"""The container recipe, checked without a container engine (none is installed where the tests run): its
essentials are read from the Dockerfile, and its start command is run as the container would run it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _all(keyword: str) -> list[str]:
    return [rest for key, rest in _instructions() if key == keyword]


def test_the_image_is_debian_slim_with_voikko_and_the_packages() -> None:
    [base] = _all("FROM")
    assert "slim" in base and ("bookworm" in base or "debian" in base), base
    installs = " ".join(_all("RUN"))
    assert "apt-get install" in installs and "libvoikko1" in installs and "voikko-fi" in installs
    assert "rm -rf /var/lib/apt/lists" in installs, "apt lists are removed from the layer"
    copied = {rest.split()[0] for rest in _all("COPY")}
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in packages:
        name = package.rstrip("*")
        assert name in copied, f"the image does not copy {name}/ that pyproject.toml packages"
    assert "pip install --no-cache-dir ." in installs, "the base install, without test or eval extras"


def test_it_runs_as_a_user_with_the_index_in_a_volume_and_a_healthcheck() -> None:
    users = _all("USER")
    assert users and users[-1] not in ("root", "0"), users
    volumes = " ".join(_all("VOLUME"))
    env = " ".join(_all("ENV"))
    assert "/data" in volumes and "KYSY_DATA_DIR=/data" in env and "KYSY_CORPUS_DIR=/data/corpus" in env
    assert "KYSY_HOST=0.0.0.0" in env
    [health] = _all("HEALTHCHECK")
    assert "/readyz" in health and "--start-period" in health
    assert _all("EXPOSE") == ["8000"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".kysy" in ignored


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_start_command_copies_the_corpus_indexes_and_serves(corpus_index: Settings, tmp_path: Path) -> None:
    [cmd] = _all("CMD")
    argv = json.loads(cmd)
    assert argv[:2] == ["sh", "-c"] and "kysy serve" in argv[2]
    port = _free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "KYSY_DATA_DIR": str(data), "KYSY_CORPUS_DIR": str(data / "corpus"), "BUNDLED_CORPUS": str(ROOT / "corpus"),
        "KYSY_HOST": "127.0.0.1", "KYSY_PORT": str(port), "KYSY_EMBED_CACHE": str(corpus_index.embed_cache_path),
    }
    log = tmp_path / "container.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the container's command did not serve within 240 s")
        assert ready.json()["documents"] == 5
        assert sorted(p.name for p in (data / "corpus").iterdir()) == sorted(p.name for p in (ROOT / "corpus").iterdir())
    finally:
        process.terminate()
        process.wait(timeout=30)
