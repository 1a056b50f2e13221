"""Files out of an npm package, for the site: ``npm pack``, check the archive, extract.

The documentation site draws its diagrams with Mermaid, whose all-in-one build
(``dist/mermaid.min.js``) is in its npm package. Only that file (and the licence) is needed,
not the package's hundred dependencies, so this takes the package's archive alone with
``npm pack``, checks it against the pinned checksum (the one the registry publishes as its
``integrity``), and extracts the named members into a folder, whole or not at all. npm's
cache keeps the archive: later runs need no network. Standard library only.

    python3 tools/npm_asset.py mermaid@11.17.2 --integrity sha512-... \\
        --member package/dist/mermaid.min.js --member package/LICENSE --into build/vendor/mermaid
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Fetch, check and extract; one line on stderr and status 2 when something is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="NAME@VERSION, an exact version")
    parser.add_argument("--integrity", required=True, help="sha512-BASE64 of the archive")
    parser.add_argument("--member", action="append", required=True, help="a file in the archive")
    parser.add_argument("--into", type=Path, required=True, help="the folder to write")
    args = parser.parse_args(argv)
    try:
        extract(pack(args.spec, args.integrity), args.member, args.into)
    except AssetError as error:
        print(f"npm_asset: {args.spec}: {error}", file=sys.stderr)
        return 2
    return 0


class AssetError(Exception):
    """Something a user can fix: npm missing or failing, a checksum or a member wrong."""


def pack(spec: str, integrity: str) -> bytes:
    """The package's archive, from npm's cache when it has it, checked against ``integrity``."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(
            "npm is needed (Debian: apt-get install npm; tools/install-system-deps.sh)"
        )
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [npm, "pack", "--silent", "--prefer-offline", "--pack-destination", folder, spec],
            capture_output=True,
            text=True,
            check=False,
        )
        archives = list(Path(folder).glob("*.tgz"))
        if result.returncode or len(archives) != 1:
            last = (result.stderr.strip().splitlines() or ["no archive"])[-1]
            raise AssetError(f"npm pack failed: {last}")
        data = archives[0].read_bytes()
    found = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if found != integrity:
        raise AssetError(f"the archive's checksum is {found}, not the pinned {integrity}")
    return data


def extract(archive: bytes, members: list[str], into: Path) -> None:
    """Write ``members`` (by their base names) into ``into``, replacing it as a whole."""
    staging = into.with_name(f".{into.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tempfile.TemporaryFile() as file:
        file.write(archive)
        file.seek(0)
        with tarfile.open(fileobj=file, mode="r:gz") as tar:
            for member in members:
                try:
                    content = tar.extractfile(member)
                except KeyError:
                    content = None
                if content is None:
                    shutil.rmtree(staging)
                    raise AssetError(f"the archive has no file {member}")
                (staging / Path(member).name).write_bytes(content.read())
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)


if __name__ == "__main__":
    sys.exit(main())
