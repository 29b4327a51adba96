"""``kysy chat``: a conversation on the terminal that keeps its history, answers with citations.

Each question is answered with the earlier turns as history, exactly as ``POST /api/chat`` with
``history`` would. A line that starts with ``/`` is a command, never a question: ``/uusi`` (or ``/new``)
starts a new conversation, ``/apua`` (``/help``, ``/?``) lists the commands, ``/lopeta`` or Ctrl-D ends;
any other ``/word`` is answered with the list. On a terminal the line editor (readline) gives history
and editing of the typed line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from assistant.service import Assistant
from cli.ask import cli_links, print_answer
from kysy.errors import KysyError
from kysy.models import Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A chat command: its Finnish name first, then its aliases, and what it does (in Finnish)."""

    names: tuple[str, ...]
    does: str


NEW = Command(("/uusi", "/new", "/ny"), "aloittaa uuden keskustelun")
HELP = Command(("/apua", "/help", "/?"), "näyttää tämän komentoluettelon")
QUIT = Command(("/lopeta", "/quit", "/exit", "/avsluta"), "lopettaa keskustelun, kuten Ctrl-D")
COMMANDS = (NEW, HELP, QUIT)
PROMPT = "kysy> "
GREETING = (
    "Kysy: kysy kuntien ja hyvinvointialueiden yhteistyöstä. "
    "/uusi aloittaa uuden keskustelun, /apua näyttää komennot, Ctrl-D tai /lopeta lopettaa."
)
NEW_TEXT = "Uusi keskustelu aloitettu."


def run_chat(settings: Settings, *, max_turns: int | None = None) -> int:
    """Talk on the terminal until end of input; returns the exit status (0).

    Raises:
        IndexNotBuiltError: there is no index yet (the CLI prints the message and exits 1).
    """
    assistant = Assistant(settings)
    warming = threading.Thread(target=_warm, args=(assistant,), name="kysy-chat-warm", daemon=True)
    warming.start()  # while the first question is being typed
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and the up arrow for earlier questions
            import readline  # noqa: F401
    read = (lambda: input(PROMPT)) if interactive else _read_line(sys.stdin)
    try:
        chat(assistant, read, sys.stdout, greet=interactive, max_turns=max_turns or settings.max_history_turns,
             ready=warming.join)
    finally:
        warming.join()  # the models are not torn down under a running question at exit
    return 0


def _warm(assistant: Assistant) -> None:
    """Load the answer engine and answer one question (``Assistant.warm``), so the first real answer is as quick
    as the rest. A failure is left to the first question, which reports it."""
    try:
        assistant.warm()
    except KysyError as exc:
        logger.debug("warming failed: %s", exc)


def chat(assistant: Assistant, read: Callable[[], str], out: TextIO, *, greet: bool, max_turns: int,
         ready: Callable[[], None] = lambda: None) -> None:
    """The conversation loop: ``read`` returns the next line and raises EOFError at the end; ``ready`` is
    called before each question is answered (``run_chat`` waits there for its warming to end)."""
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
        if line.startswith("/"):
            command = find_command(line)
            if command is QUIT:
                return
            if command is NEW:
                history = []
            out.write(command_reply(line, command) + "\n")
            out.flush()
            continue
        ready()
        answer = assistant.ask(line, history[-2 * max_turns :] if max_turns else [])
        print_answer(answer, cli_links(assistant.settings, assistant.snapshot), out)
        out.write("\n")
        out.flush()
        history += [Turn("user", line), Turn("assistant", answer.text)]


def find_command(line: str) -> Command | None:
    """The command a ``/`` line names by its first word (any case), or None when it names none."""
    word = line.split()[0].lower()
    return next((command for command in COMMANDS if word in command.names), None)


def command_reply(line: str, command: Command | None) -> str:
    """What the chat writes for a command line: the new-conversation notice or the list of commands."""
    if command is NEW:
        return NEW_TEXT
    listing = help_text()
    return listing if command is HELP else f"{line.split()[0]} ei ole komento.\n{listing}"


def help_text() -> str:
    """The commands by their Finnish names, each with its English and Swedish aliases."""
    width = max(len(command.names[0]) for command in COMMANDS)
    rows = [
        f"  {command.names[0]:<{width}}  {command.does} (myös {', '.join(command.names[1:])})" for command in COMMANDS
    ]
    return "\n".join(["Komennot (suluissa englannin- ja ruotsinkieliset nimet):", *rows,
                      "Muut rivit ovat kysymyksiä aineistosta."])


def _read_line(stream: TextIO) -> Callable[[], str]:
    def read() -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line

    return read
