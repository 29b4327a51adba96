"""``kysy chat`` as a user runs it: in a real pseudo-terminal, and with piped input."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.service import Assistant
from cli.chat import run_chat
from kysy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROMPT = b"kysy> "


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_CACHE": str(settings.embed_cache_path)}


class Terminal:
    """``kysy chat`` on the slave side of a pseudo-terminal; the test types on the master side."""

    def __init__(self, settings: Settings) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "chat"], cwd=ROOT, env=_env(settings),
            stdin=slave, stdout=slave, stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 120.0) -> bytes:
        """Everything the program wrote up to and including ``marker`` (after what was read before)."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the program closed the terminal
                    chunk = b""
                assert chunk, f"the program ended before {marker!r}: {self.seen[-500:]!r}"
                self.seen += chunk
        head, _, self.seen = self.seen.partition(marker)
        return head + marker

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        os.close(self.master)


def test_chat_keeps_the_conversation_in_a_terminal(corpus_index: Settings) -> None:
    term = Terminal(corpus_index)
    try:
        greeting = term.read_until(PROMPT)
        assert b"/uusi" in greeting
        term.type("Mik\u00e4 on Etel\u00e4-Karjalan v\u00e4est\u00f6pohja?\r")
        first = term.read_until(PROMPT).decode()
        assert "127 000" in first and "L\u00e4hteet:" in first and "dia 9" in first
        term.type("Ent\u00e4 henkil\u00f6st\u00f6n m\u00e4\u00e4r\u00e4?\r")
        followup = term.read_until(PROMPT).decode()
        assert "5500" in followup and "dia 9" in followup  # the follow-up kept Etelä-Karjala as its topic
        term.type("/uusi\r")
        assert b"Uusi keskustelu" in term.read_until(PROMPT)
        term.type("Ketk\u00e4 rahoittavat yhdyspintaprojektia?\r")
        funders = term.read_until(PROMPT).decode()
        assert "Hyvil" in funders and "dia 3" in funders
        term.type("\x04")  # Ctrl-D ends the conversation
        assert term.process.wait(timeout=30) == 0
    finally:
        term.close()


def test_chat_reads_piped_questions_as_one_conversation(corpus_index: Settings) -> None:
    questions = "Mitkä ovat Etelä-Karjalan pilotin painopisteet?\nEntä Lapissa?\n"
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "chat"], cwd=ROOT, env=_env(corpus_index),
        input=questions, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    first, _, second = result.stdout.partition("Lähteet:")[2].partition("Aineiston mukaan:")
    assert "dia 11" in first
    assert "Turvallisuus ja varautuminen" in second and "dia 12" in second


def test_slash_lines_are_commands_never_questions(corpus_index: Settings) -> None:
    lines = ["/help", "/apua", "/?", "/kuka", "/lopeta", "Mikä on Etelä-Karjalan väestöpohja?"]
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "chat"], cwd=ROOT, env=_env(corpus_index),
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    replies = result.stdout.split("Komennot")
    assert len(replies) == 5, result.stdout  # /help, /apua, /? and the unknown /kuka each list the commands
    for listing in replies[1:]:
        assert all(name in listing for name in ("/uusi", "/new", "/apua", "/help", "/lopeta", "/quit"))
    assert "/kuka ei ole komento." in replies[3]
    assert "Aineistosta ei löydy" not in result.stdout and "Vastaan kysymyksiin" not in result.stdout  # none asked
    assert "127 000" not in result.stdout  # /lopeta ended the conversation before the question


def test_chat_warms_the_engine_while_the_first_question_is_typed(
    corpus_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    warm, ask = Assistant.warm, Assistant.ask

    def warming(self: Assistant) -> None:
        events.append("warming")
        warm(self)
        events.append("warm")

    def asking(self: Assistant, *args: object, **kwargs: object) -> object:
        events.append("asked")
        return ask(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Assistant, "warm", warming)
    monkeypatch.setattr(Assistant, "ask", asking)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Ketkä rahoittavat yhdyspintaprojektia?\n"))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert run_chat(corpus_index) == 0
    # The question waits for the warming begun at start-up instead of loading the engine beside it.
    assert events == ["warming", "warm", "asked"]
    assert "Hyvil" in out.getvalue() and "dia 3" in out.getvalue()
