"""Benchmark: the container image's sizes and build times. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_image.py            # everything (a cold build: minutes)
    .venv/bin/python bench/bench_image.py --warm     # sizes and the rebuild only
    .venv/bin/python bench/bench_image.py --markdown docs/bench/image.md   # also the docs' table

Figures: the runtime image's size and what it adds to its base (goal: under 150 MB), the build
stage's size, the cold build time (no layer cache, empty cache mounts, and the base image made
from Debian when none can be pulled), and the rebuild time after a one-line code change in a
copy of the tree, as a fraction of the cold build (goal: under 20 %): one in the serving code,
then one in the command line, which the model is trained through.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's tools importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table  # noqa: E402
from tools.container import engine as engines  # noqa: E402
from tools.sources import copy_sources  # noqa: E402

TAG = "pyapp-bench"
MB = 1_000_000


def timed_build(
    engine: engines.Engine,
    tag: str,
    *,
    context: Path = ROOT,
    target: str | None = None,
    extra: tuple[str, ...] = (),
) -> float:
    """Seconds to build ``tag`` (output hidden unless the build fails)."""
    start = time.perf_counter()
    try:
        engines.build(engine, tag, context=context, target=target, extra=extra, quiet=True)
    except subprocess.CalledProcessError as error:
        sys.exit(f"build of {tag} failed:\n{error.stdout[-3000:]}\n{error.stderr[-3000:]}")
    return time.perf_counter() - start


def image_size(engine: engines.Engine, image: str) -> int:
    """The image's size in bytes, all its layers (the base's included)."""
    size = engine.run("image", "inspect", "--format", "{{.Size}}", image, capture=True).stdout
    return int(size.strip())


def empty_build_caches(engine: engines.Engine) -> None:
    """Forget the cache mounts (pip and apt downloads, mypy's cache) and unused layers."""
    if engine.is_podman:
        # podman (buildah) keeps the RUN --mount=type=cache folders here (root's, then
        # other users' since buildah 1.29).
        for name in ("buildah-cache", f"buildah-cache-{os.getuid()}"):
            shutil.rmtree(Path("/var/tmp") / name, ignore_errors=True)  # noqa: S108
    else:
        engine.run("builder", "prune", "--all", "--force", capture=True)


def cold(engine: engines.Engine) -> tuple[float, float]:
    """Seconds to make the base image (0 if one can be pulled) and to build with no cache."""
    base = engines.base_image(engine)
    base_seconds = 0.0
    if base == engines.LOCAL_BASE:
        start = time.perf_counter()
        script = str(engines.HERE / "make-base-image.sh")
        env = {**os.environ, **engine.env}
        subprocess.run(
            [script, engine.name, f"{engines.LOCAL_BASE}-bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        base_seconds = time.perf_counter() - start
        engine.run("rmi", f"{engines.LOCAL_BASE}-bench", capture=True)
    empty_build_caches(engine)
    return base_seconds, timed_build(engine, TAG, extra=("--no-cache",))


# One-line changes, made one after the other in a copy of the tree: first in code that the
# model is not trained from (the Dockerfile's training layer is reused), then in the command
# line, which training runs through (the model is trained again).
CHANGES = {
    "serving code": Path("sampleproject/serving/app.py"),
    "command line (retrains)": Path("sampleproject/cli.py"),
}


def rebuild_after_changes(engine: engines.Engine) -> tuple[float, dict[str, float]]:
    """Seconds to build a copy of the tree unchanged, then after each one-line change."""
    with tempfile.TemporaryDirectory(prefix="bench-image-") as folder:
        tree = Path(folder) / "tree"
        copy_sources(ROOT, tree)  # no outputs, no model: what .dockerignore sends anyway
        unchanged = timed_build(engine, f"{TAG}-copy", context=tree)
        changed = {}
        for what, path in CHANGES.items():
            with (tree / path).open("a", encoding="utf-8") as code:
                code.write("# a one-line change\n")
            changed[what] = timed_build(engine, f"{TAG}-copy", context=tree)
    engine.run("rmi", f"{TAG}-copy", check=False, capture=True)
    return unchanged, changed


@dataclass
class Sizes:
    """The images' sizes in bytes."""

    base: str
    base_bytes: int
    runtime: int
    build_stage: int


def write_markdown(
    path: Path, engine: str, sizes: Sizes, timings: tuple[float, float], changed: dict[str, float]
) -> None:
    """The figures as the docs' table (build times only when the cold build was measured)."""
    added = (sizes.runtime - sizes.base_bytes) / MB
    rows = [
        [f"Base image (`{sizes.base}`)", f"{sizes.base_bytes / MB:.1f} MB", ""],
        ["Runtime image", f"{sizes.runtime / MB:.1f} MB", ""],
        ["Added by the runtime image on top of its base", f"{added:.1f} MB", "under 150 MB"],
        ["Build stage (`--target build`)", f"{sizes.build_stage / MB:.1f} MB", ""],
    ]
    base_seconds, cold_seconds = timings
    if cold_seconds:
        rows += [
            ["Base image made from Debian", f"{base_seconds:.0f} s", ""],
            ["Cold image build (no layer cache, empty cache mounts)", f"{cold_seconds:.0f} s", ""],
        ]
        for what, seconds in changed.items():
            share = f"{seconds:.0f} s = {seconds / cold_seconds:.0%} of the cold build"
            rows.append([f"Rebuild after a one-line change in the {what}", share, "under 20 %"])
    doc_table.write(path, ["figure", "value", "goal"], rows, [f"Engine: {engine}."])


def main() -> int:
    """Measure and print (and write the table with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="skip the cold build")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    engine = engines.detect()
    print(f"engine: {engine.name}")

    base_seconds, cold_seconds = cold(engine) if not args.warm else (0.0, 0.0)
    if args.warm:
        timed_build(engine, TAG)
    timed_build(engine, f"{TAG}-build", target="build")
    unchanged, changed = rebuild_after_changes(engine)

    base = engines.base_image(engine)
    sizes = Sizes(
        base, image_size(engine, base), image_size(engine, TAG), image_size(engine, f"{TAG}-build")
    )
    added = (sizes.runtime - sizes.base_bytes) / MB
    print(f"base image ({base}):            {sizes.base_bytes / MB:7.1f} MB")
    print(f"runtime image:                  {sizes.runtime / MB:7.1f} MB")
    print(f"  added on top of the base:     {added:7.1f} MB (goal < 150 MB)")
    print(f"build stage (--target build):   {sizes.build_stage / MB:7.1f} MB")
    if not args.warm:
        print(f"base image made from Debian:    {base_seconds:7.1f} s")
        print(f"cold image build (no caches):   {cold_seconds:7.1f} s")
        print(f"cold total (base + build):      {base_seconds + cold_seconds:7.1f} s")
    print(f"build of an unchanged copy:     {unchanged:7.1f} s")
    for what, seconds in changed.items():
        share = f" = {seconds / cold_seconds:.0%} of the cold build" if cold_seconds else ""
        print(f"rebuild after a one-line change in the {what}: {seconds:.1f} s{share}")
    if cold_seconds:
        print("(goal: under 20 % of the cold build)")
    for image in (TAG, f"{TAG}-build"):
        engine.run("rmi", image, check=False, capture=True)
    if args.markdown:
        write_markdown(args.markdown, engine.name, sizes, (base_seconds, cold_seconds), changed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
