"""The package's import graph keeps its layers: each command is a leaf.

A command module (``sampleproject/commands/*.py``) is what one ``sampleproject COMMAND`` runs.
What two commands share lives below them (``arguments.py``, ``formats.py``, ``streams.py``,
``training/prerequisites.py``...), so that changing one command never changes another, and
only the command line (``cli.py``) imports a command. Read from the source with ``ast``, so
imports inside functions (the commands import their heavy modules late) count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sampleproject"
COMMANDS = "sampleproject.commands"


def module_name(path: Path) -> str:
    """``sampleproject/inference/model.py`` -> ``sampleproject.inference.model``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module that the module at ``path`` imports."""
    text = path.read_text(encoding="utf-8")
    return imports_of(text, module_name(path), is_package=path.name == "__init__.py")


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module that ``source`` imports, anywhere in it (``from X import Y``: X and X.Y),
    relative imports resolved as in module ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: level 1 is the module's own package
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def command_modules() -> list[Path]:
    """The command modules (not the package's ``__init__``)."""
    found = sorted(path for path in (PACKAGE / "commands").glob("*.py") if path.stem != "__init__")
    assert len(found) >= 6, found  # train, predict, serve, promote, rollback, drift at least
    return found


@pytest.mark.parametrize("path", command_modules(), ids=lambda path: path.stem)
def test_a_command_imports_no_other_command(path: Path) -> None:
    me = module_name(path)
    others = sorted(
        name
        for name in imported(path)
        if name.startswith(f"{COMMANDS}.") and name != me and not me.startswith(f"{name}.")
    )
    assert not others, f"{me} imports {others}: move what they share below the commands"


def test_only_the_command_line_imports_the_commands() -> None:
    importers = sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if "commands" not in path.relative_to(PACKAGE).parts[:-1]
        and path.name != "cli.py"
        and any(name == COMMANDS or name.startswith(f"{COMMANDS}.") for name in imported(path))
    )
    assert not importers, f"{importers} import commands: only sampleproject.cli may"


def test_the_import_reader_sees_late_and_relative_imports() -> None:
    # The rule's own check: an import inside a function, or a relative one, is seen.
    late = "def run():\n    from sampleproject.commands import train\n"
    assert "sampleproject.commands.train" in imports_of(late, "sampleproject.commands.x")
    relative = "from .train import configure\nfrom .. import cli\n"
    found = imports_of(relative, "sampleproject.commands.x")
    assert {"sampleproject.commands.train", "sampleproject.cli"} <= found
    assert "sampleproject.training.promotion" in imported(PACKAGE / "commands" / "promote.py")
