"""The shell blocks of the README and docs/*.md, read as a user reads them, and their marks.

Every fenced block whose language is ``bash``, ``sh``, ``shell`` or ``console`` is a list of
commands that tests/test_documented_commands.py runs, unless a mark above the block says
otherwise. A mark is an HTML comment on its own line right above the fence (invisible on the
site), one clause a line (the rule, for writers of new pages: docs/ci.md, "Executed docs"):

    <!-- docs-test: run-by tests/test_x.py::test_name -->
        that test runs the block's commands it names with ``documented(...)`` (checked);
        a file path instead (``.ci/run``) runs a command that is one of its lines
    <!-- docs-test: skip "COMMAND": REASON -->
        that command is not run here, for REASON (what it needs that cannot run here)
    <!-- docs-test: skip: REASON -->
        no other command of the block is run here, for REASON

In a command, a trailing ``# prints TEXT`` is its exact standard output, and ``# serves URL``
means it serves until Ctrl-C; in a ``console`` block, the lines after ``$ command`` are its
output, ``...`` standing for any text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+)(?P<lang>[\w-]*)[^\n]*$")
MARK = re.compile(r"^[ \t]*<!-- docs-test: (?P<clause>.+?) -->[ \t]*$")
SKIP = re.compile(r'^skip(?: "(?P<command>[^"]+)")?: (?P<reason>\S.*)$')
RUN_BY = re.compile(r"^run-by (?P<runner>\S+)$")
PRINTS = re.compile(r"^prints (?P<text>.*)$")
SERVES = re.compile(r"^serves (?P<url>https?://\S+?)[,.]?(?:\s|$)")


def pages() -> list[Path]:
    """The README, then the manual's pages (the order a reader follows)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Command:
    """One command of a block: its text as typed, its trailing comment, what it shows."""

    text: str
    comment: str = ""
    output: str | None = None  # a console block's lines after the command

    @property
    def prints(self) -> str | None:
        """The exact output a ``# prints TEXT`` comment promises."""
        found = PRINTS.match(self.comment)
        return found["text"] if found else None

    @property
    def serves(self) -> str | None:
        """The URL a ``# serves URL`` comment promises (it runs until Ctrl-C)."""
        found = SERVES.match(self.comment)
        return found["url"] if found else None


@dataclass
class Block:
    """A shell block of a page, its marks and its commands."""

    page: Path
    line: int
    language: str
    commands: list[Command]
    run_by: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # command -> reason
    skip_rest: str | None = None  # the reason of a `skip:` for every other command

    @property
    def where(self) -> str:
        """``page:line``, for messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The shell blocks of ``page``, with their marks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        closing = next(
            (end for end in range(index + 1, len(lines)) if lines[end].strip() == opening["fence"]),
            len(lines),
        )
        if opening["lang"] in SHELL_LANGUAGES:
            indent = len(opening["indent"])
            body = [line[indent:] for line in lines[index + 1 : closing]]
            block = Block(page, index + 1, opening["lang"], parse(body, opening["lang"]))
            _read_marks(block, lines, index)
            found.append(block)
        index = closing + 1
    return found


def _read_marks(block: Block, lines: list[str], fence: int) -> None:
    above = fence - 1
    while above >= 0 and (mark := MARK.match(lines[above])):
        clause = mark["clause"]
        if run_by := RUN_BY.match(clause):
            block.run_by.append(run_by["runner"])
        elif skip := SKIP.match(clause):
            if skip["command"]:
                block.skipped[skip["command"]] = skip["reason"]
            else:
                block.skip_rest = skip["reason"]
        else:
            raise ValueError(f"{block.where}: unknown docs-test mark {clause!r}")
        above -= 1


def parse(body: list[str], language: str) -> list[Command]:
    """The commands of a block's lines (continuations joined, comments split off)."""
    if language == "console":
        return _console_commands(body)
    commands = []
    for text in _joined(line for line in body if line.strip() and not _is_comment(line)):
        command, comment = split_comment(text)
        commands.append(Command(command, comment))
    return commands


def _console_commands(body: list[str]) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] = []
    output: list[str] = []

    def close() -> None:
        if pending:
            text, comment = split_comment("\n".join(pending))
            commands.append(Command(text, comment, "\n".join(output) if output else None))

    for line in body:
        if line.startswith("$ "):
            close()
            pending, output = [line[2:]], []
        elif pending and not output and _incomplete("\n".join(pending)):
            pending.append(line)
        elif pending:
            output.append(line)
    close()
    return commands


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _joined(lines: object) -> list[str]:
    """Lines joined into commands: a trailing backslash or an open quote continues one."""
    commands: list[str] = []
    pending: list[str] = []
    for line in lines:  # type: ignore[attr-defined]
        pending.append(line)
        if not _incomplete("\n".join(pending)):
            commands.append("\n".join(pending))
            pending = []
    if pending:
        commands.append("\n".join(pending))
    return commands


def _incomplete(text: str) -> bool:
    """True when the shell would ask for more: an open quote, or a line ending in ``\\``."""
    if text.rstrip().endswith("\\"):
        return True
    try:
        shlex.split(text, comments=True)
    except ValueError:  # "No closing quotation"
        return True
    return False


def split_comment(text: str) -> tuple[str, str]:
    """``command # comment`` -> (command, comment); a ``#`` inside quotes is no comment."""
    quote = ""
    for position, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or text[position - 1] in " \t"):
            return text[:position].rstrip(), text[position + 1 :].strip()
    return text.rstrip(), ""


def documented(page: str, command: str) -> list[str]:
    """``command``'s words, after checking that ``page`` shows it in a shell block.

    A test named by a ``run-by`` mark takes the commands it runs from here, so the command
    it runs is the one the page shows (tests/test_documented_commands.py checks the calls).
    """
    shown = [found.text for block in blocks(ROOT / page) for found in block.commands]
    assert command in shown, f"{page} shows no command {command!r}"
    return shlex.split(command)
