"""``kysy chat``: a conversation on the terminal that keeps its history, answers with citations.

Each question is answered with the earlier turns as history, exactly as ``POST /api/chat`` with
``history`` would; ``/uusi`` (or ``/new``) starts a new conversation, ``/lopeta`` or Ctrl-D ends.
On a terminal the line editor (readline) gives history and editing of the typed line.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TextIO

from assistant.service import Assistant
from cli.ask import cli_links, print_answer
from kysy.models import Turn
from kysy.settings import Settings

NEW_COMMANDS = frozenset({"/uusi", "/new", "/ny"})
QUIT_COMMANDS = frozenset({"/lopeta", "/quit", "/exit", "/avsluta"})
PROMPT = "kysy> "
GREETING = (
    "Kysy: kysy kuntien ja hyvinvointialueiden yhteistyöstä. "
    "/uusi aloittaa uuden keskustelun, Ctrl-D tai /lopeta lopettaa."
)
NEW_TEXT = "Uusi keskustelu aloitettu."


def run_chat(settings: Settings, *, max_turns: int | None = None) -> int:
    """Talk on the terminal until end of input; returns the exit status (0).

    Raises:
        IndexNotBuiltError: there is no index yet (the CLI prints the message and exits 1).
    """
    assistant = Assistant(settings)
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and the up arrow for earlier questions
            import readline  # noqa: F401
    read = (lambda: input(PROMPT)) if interactive else _read_line(sys.stdin)
    chat(assistant, read, sys.stdout, greet=interactive, max_turns=max_turns or settings.max_history_turns)
    return 0


def chat(assistant: Assistant, read: Callable[[], str], out: TextIO, *, greet: bool, max_turns: int) -> None:
    """The conversation loop: ``read`` returns the next line and raises EOFError at the end."""
    if greet:
        out.write(GREETING + "\n")
    history: list[Turn] = []
    while True:
        try:
            line = read().strip()
        except EOFError:
            if greet:
                out.write("\n")
            return
        except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as a shell does
            out.write("\n")
            continue
        if not line:
            continue
        command = line.lower()
        if command in QUIT_COMMANDS:
            return
        if command in NEW_COMMANDS:
            history = []
            out.write(NEW_TEXT + "\n")
            continue
        answer = assistant.ask(line, history[-2 * max_turns :] if max_turns else [])
        print_answer(answer, cli_links(assistant.settings, assistant.snapshot), out)
        out.write("\n")
        out.flush()
        history += [Turn("user", line), Turn("assistant", answer.text)]


def _read_line(stream: TextIO) -> Callable[[], str]:
    def read() -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line

    return read
