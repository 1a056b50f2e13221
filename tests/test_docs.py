"""The documentation: the README is a short front page, and the site builds strictly.

The site tests build a copy of the project with ``make docs`` (MkDocs, strict), using this
environment, and show that the strict build fails on what it promises to catch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_checkout, make_with_this_environment

README = ROOT / "README.md"
SEED_COMMANDS = ("make clean && make sonar", "make clean && make bdist_wheel", "make clean && make")
# The pages of the manual the README sends readers to.
MANUAL = (
    *("pipeline", "packaging", "training", "predict", "serve", "container", "servers", "ci"),
    *("supply-chain", "benchmarks", "registry"),
)


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """mkdocs.yml names a Python function with a tag; reading the nav needs none of it."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)


def nav_pages() -> list[str]:
    """Every page file the site's navigation lists."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = yaml.load(text, Loader=_Loader)  # noqa: S506 (safe: python tags are ignored)
    return [page for entry in config["nav"] for page in entry.values()]


def test_the_readme_is_a_short_front_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for command in ("make", "make test", *SEED_COMMANDS):
        assert re.search(rf"^{re.escape(command)}(\s|$)", text, re.MULTILINE), command


def test_the_readme_points_to_every_page_of_the_manual() -> None:
    text = README.read_text(encoding="utf-8")
    for page in MANUAL:
        assert f"(docs/{page}.md)" in text, page
        assert (ROOT / "docs" / f"{page}.md").is_file()
        assert f"{page}.md" in nav_pages()


def test_every_page_in_docs_is_in_the_navigation() -> None:
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert pages == set(nav_pages())


def test_the_benchmark_page_includes_the_generated_tables() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    included = re.findall(r'^--8<-- "(bench/\w+\.md)"$', text, re.MULTILINE)
    assert {"bench/cli.md", "bench/serving.md", "bench/predict.md"} <= set(included)
    for snippet in included:
        generated = (ROOT / "docs" / snippet).read_text(encoding="utf-8")
        assert "Measured on " in generated
        assert "with `python bench/" in generated


# --- the site, built for real ------------------------------------------------------------


def make_docs(project: Path) -> tuple[int, str]:
    """``make docs`` in ``project`` with this test's environment; status and output."""
    result = make_with_this_environment("docs", project=project, timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_make_docs_builds_every_page_with_diagrams_and_generated_figures(tmp_path: Path) -> None:
    project = copy_checkout(tmp_path / "project")
    status, output = make_docs(project)
    assert status == 0, output
    site = project / "site"
    for page in nav_pages():
        built = site / ("index.html" if page == "index.md" else f"{page[:-3]}/index.html")
        assert built.is_file(), page
    assert '<pre class="mermaid">' in (site / "pipeline" / "index.html").read_text("utf-8")
    assert '<pre class="mermaid">' in (site / "training" / "index.html").read_text("utf-8")
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Throughput ratio" in benchmarks
    assert "--8&lt;--" not in benchmarks  # every snippet was included, none left as text
    # A second make has nothing to do: the site is a file target with its real inputs.
    again = make_with_this_environment("docs", project=project)
    assert "Nothing to be done" in again.stdout


def _break_link(project: Path) -> None:
    page = project / "docs" / "serve.md"
    page.write_text(page.read_text("utf-8") + "\nSee [the manual](no-such-page.md).\n", "utf-8")


def _break_anchor(project: Path) -> None:
    page = project / "docs" / "serve.md"
    page.write_text(page.read_text("utf-8") + "\nSee [it](pipeline.md#no-such-part).\n", "utf-8")


def _lose_a_snippet(project: Path) -> None:
    (project / "docs" / "bench" / "serving.md").unlink()


def _lose_a_page(project: Path) -> None:
    (project / "docs" / "ci.md").unlink()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (_break_link, "no-such-page.md"),
        (_break_anchor, "no-such-part"),
        (_lose_a_snippet, "bench/serving.md"),
        (_lose_a_page, "ci.md"),
    ],
)
def test_the_strict_build_fails_on_a_broken_docs_tree(
    tmp_path: Path, damage: Callable[[Path], None], named: str
) -> None:
    project = copy_checkout(tmp_path / "project")
    damage(project)
    status, output = make_docs(project)
    assert status != 0
    assert named in output
    assert not (project / "site" / "index.html").exists()
