"""The pages people read in a browser, in a real one: offline, rendered, working.

Debian's Chromium, driven by Playwright (tests/browser.py), opens the API's Swagger UI
(``/docs``, where "Try it out" on ``POST /predict`` must return a prediction), its ReDoc
(``/redoc``), and every page of the documentation site that has a diagram (each must show an
SVG drawn by the vendored Mermaid). Every request to a host other than the local one is
aborted and recorded, and each test fails if there was any: the pages must need nothing
from the internet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, CDPSession, expect

from tests import browser as web
from tests.conftest import ROOT, copy_checkout, make_with_this_environment

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MERMAID_FENCE = re.compile(r"^\s*```mermaid\s*$", re.MULTILINE)


def pages_with_diagrams() -> dict[str, int]:
    """The docs pages with Mermaid diagrams: their site path and how many diagrams."""
    found = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        count = len(MERMAID_FENCE.findall(page.read_text(encoding="utf-8")))
        if count:
            found["" if page.stem == "index" else f"{page.stem}/"] = count
    return found


@pytest.fixture(name="chromium", scope="module")
def chromium_fixture() -> Iterator[Browser]:
    """One Chromium for the module; each test gets its own context and page."""
    with web.chromium() as started:
        yield started


@pytest.fixture(name="api", scope="module")
def api_fixture() -> Iterator[str]:
    """A real ``sampleproject serve`` (the shipped model) on a free loopback port."""
    with web.served_api() as url:
        yield url


@pytest.fixture(name="site", scope="module")
def site_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The documentation site built by ``make docs`` in a fresh copy, served on loopback."""
    project = copy_checkout(tmp_path_factory.mktemp("docs") / "project")
    built = make_with_this_environment("docs", project=project)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    with web.served_folder(project / "site") as url:
        yield url


def test_the_guard_catches_a_page_that_loads_from_another_host(
    chromium: Browser, tmp_path: Path
) -> None:
    """The check the other tests rely on can fail: a CDN script is caught, not loaded."""
    (tmp_path / "index.html").write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/x/x.js"></script></head>'
        '<body><img src="http://fonts.example.org/f.png"><p id="ok">local</p></body></html>',
        encoding="utf-8",
    )
    with web.served_folder(tmp_path) as url, web.offline_page(chromium) as checked:
        checked.page.goto(f"{url}/index.html")
        expect(checked.page.locator("#ok")).to_have_text("local")
        checked.page.wait_for_load_state("networkidle")
    assert sorted(checked.outside) == [
        "http://fonts.example.org/f.png",
        "https://cdn.jsdelivr.net/npm/x/x.js",
    ]


def test_swagger_ui_renders_offline_and_try_it_out_returns_a_prediction(
    chromium: Browser, api: str
) -> None:
    with web.offline_page(chromium) as checked:
        page = checked.page
        page.goto(f"{api}/docs")
        operation = page.locator(".opblock-post", has_text="/predict")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        body = operation.locator("textarea.body-param__text")
        expect(body).to_contain_text('"legs": 4')  # the schema's first example, one mammal
        operation.get_by_role("button", name="Execute").click()
        answer = operation.locator(".live-responses-table tbody .response-col_description")
        expect(answer).to_contain_text('"class_name": "mammal"')
        status = operation.locator(".live-responses-table tbody .response-col_status")
        expect(status).to_have_text("200")
        page.wait_for_load_state("networkidle")
    assert not checked.outside, checked.outside


def test_redoc_renders_offline(chromium: Browser, api: str) -> None:
    with web.offline_page(chromium) as checked:
        page = checked.page
        page.goto(f"{api}/redoc")
        expect(page.locator("h1").first).to_contain_text("sampleproject")
        expect(page.locator("h2", has_text="Predict").first).to_be_visible()
        expect(page.get_by_text("/predict", exact=True).first).to_be_attached()
        page.wait_for_load_state("networkidle")
    assert not checked.outside, checked.outside


def test_the_docs_have_pages_with_diagrams() -> None:
    assert {"pipeline/", "serve/", "training/"} <= set(pages_with_diagrams())


@pytest.mark.parametrize(("path", "diagrams"), sorted(pages_with_diagrams().items()))
def test_every_docs_page_with_a_diagram_shows_an_svg(
    chromium: Browser, site: str, path: str, diagrams: int
) -> None:
    with web.offline_page(chromium) as checked:
        page = checked.page
        page.goto(f"{site}/{path}")
        # Material replaces each diagram's <pre class="mermaid"> text by a <div class="mermaid">
        # whose closed shadow root holds the SVG that Mermaid drew.
        drawn = page.locator("div.mermaid")
        expect(drawn).to_have_count(diagrams)
        expect(page.locator("pre.mermaid")).to_have_count(0)
        page.wait_for_load_state("networkidle")
        svgs = _svgs_in_shadow_roots(page.context.new_cdp_session(page))
        for index in range(diagrams):
            box = drawn.nth(index).bounding_box()
            assert box is not None
            assert box["height"] > 20, box
    assert svgs >= diagrams
    assert not checked.outside, checked.outside


def _svgs_in_shadow_roots(cdp: CDPSession) -> int:
    """How many <svg> are inside shadow roots, closed ones included (DevTools sees them)."""
    document = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})

    def count(node: dict[str, Any], in_shadow: bool) -> int:
        found = int(in_shadow and node.get("localName") == "svg")
        for child in node.get("children", []):
            found += count(child, in_shadow)
        for root in node.get("shadowRoots", []):
            found += count(root, True)
        return found

    return count(document["root"], False)
