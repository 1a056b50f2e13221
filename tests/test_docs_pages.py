"""``/docs`` and ``/redoc`` link only to the server's own files, and forbid any other host.

The fast half of the check; tests/test_browser.py renders both pages in Chromium offline.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sampleproject.serving import docs_pages
from sampleproject.serving.app import create_app

LINKS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.fixture(name="client", scope="module")
def client_fixture() -> TestClient:
    """The app, in process (no server needed for its HTML)."""
    return TestClient(create_app())


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_only_the_servers_own_files(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    links = [first or second for first, second in LINKS.findall(answer.text)]
    assert links
    assert [link for link in links if not link.startswith("/")] == []
    for link in links:
        if link.startswith(docs_pages.ASSETS_URL):
            assert client.get(link).status_code == 200, link
    assert "fonts.googleapis" not in answer.text
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy


def test_swagger_ui_asks_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_pages_and_their_assets_are_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


def test_the_assets_come_from_the_installed_package() -> None:
    folder = docs_pages.assets_dir()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        assert (folder / name).stat().st_size > 1000, name
    assert "site-packages" in str(folder) or "dist-packages" in str(folder)
