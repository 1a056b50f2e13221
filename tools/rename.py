"""Rename the project in one step, for a fork: ``make rename NAME=newname [IMAGE=name]``.

Renames, in every file git tracks: the import package (its folder too), the distribution and
its console script (they share the package's name), the ``SAMPLEPROJECT_`` environment
variables, the ``sampleproject_`` metrics prefix, the ``SampleProject`` class-name prefix,
the docs' text, and the container image ``pyapp`` (its scripts ``pyapp-*`` too), which becomes
IMAGE or, by default, the new name with dashes for underscores. Standard library only: it runs
before any environment exists. Review with ``git status`` and ``git diff``, then commit.

It runs once: it deletes itself, its make target and its test (a second rename by plain text
replacement could not tell a short new name from the same word elsewhere, e.g. ``zoo``).

    python3 tools/rename.py zoo                  # image "zoo"
    python3 tools/rename.py zoo_app zoo-server   # image "zoo-server"
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

OLD = "sampleproject"
OLD_CLASS = "SampleProject"
OLD_IMAGE = "pyapp"
ROOT = Path(__file__).resolve().parent.parent
# The rename's own files, which talk about the old name by design: removed by the rename.
ITSELF = ("tools/rename.py", "tools/rename.mk", "tests/test_rename.py")
# A distribution name that is also an import package's: lower case, a letter first.
NAME = re.compile(r"[a-z][a-z0-9_]*")
# An image name that Docker and podman both accept (one path component).
IMAGE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


class RenameError(Exception):
    """A reason not to rename, said in one line."""


def replacements(name: str, image: str) -> list[tuple[str, str]]:
    """Old and new spellings, longest first so that no replacement eats part of another."""
    camel = "".join(part.capitalize() for part in name.split("_"))
    return [(OLD.upper(), name.upper()), (OLD_CLASS, camel), (OLD, name), (OLD_IMAGE, image)]


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks in ``root`` (the project's sources; nothing built or installed)."""
    if not (root / ".git").exists():
        raise RenameError(f"{root} is not a git checkout: the rename works on the files git tracks")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True
    ).stdout.decode("utf-8")
    return [root / path for path in listing.split("\0") if path]


def rewrite(path: Path, pairs: list[tuple[str, str]]) -> bool:
    """Replace every old spelling in a text file; binary files are left alone."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    new = text
    for old, replacement in pairs:
        new = new.replace(old, replacement)
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def renamed_path(relative: str, pairs: list[tuple[str, str]]) -> str:
    """The path with every old spelling replaced in its components."""
    for old, replacement in pairs:
        relative = relative.replace(old, replacement)
    return relative


def rename(root: Path, name: str, image: str) -> tuple[int, int]:
    """Rename the project in ``root``; the number of files rewritten and of paths moved."""
    if not NAME.fullmatch(name) or name == OLD:
        raise RenameError(f"invalid name {name!r}: a lower-case letter, then letters, digits, _")
    if not IMAGE.fullmatch(image):
        raise RenameError(f"invalid image name {image!r}: lower-case letters, digits, . _ -")
    if not (root / OLD).is_dir():
        raise RenameError(f"no {OLD}/ package in {root}: already renamed?")
    pairs = replacements(name, image)
    subprocess.run(["git", "rm", "--quiet", "--force", *ITSELF], cwd=root, check=True)
    files = tracked_files(root)
    rewritten = sum(rewrite(path, pairs) for path in files if not path.is_symlink())
    moves = {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        target = renamed_path(relative, pairs)
        if target != relative:
            moves[relative] = target
    # git mv keeps the history of every moved file; the package folder moves in one go.
    subprocess.run(["git", "mv", OLD, name], cwd=root, check=True)
    for relative, target in sorted(moves.items()):
        if not relative.startswith(f"{OLD}/"):
            subprocess.run(["git", "mv", relative, target], cwd=root, check=True)
    return rewritten, len(moves)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, rename, say what changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the new name: package, distribution, command, prefixes")
    parser.add_argument("image", nargs="?", help="the image's name (default: from the name)")
    args = parser.parse_args(argv)
    image = args.image or args.name.replace("_", "-")
    try:
        rewritten, moved = rename(ROOT, args.name, image)
    except RenameError as error:
        print(f"rename: error: {error}", file=sys.stderr)
        return 2
    print(
        f"renamed {OLD} to {args.name} (image {image}): {rewritten} files rewritten, "
        f"{moved} moved; review with git status, then commit"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
