"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served from files installed with the package.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and ReDoc's fonts from Google, so
offline, behind a proxy or in an air-gapped cluster they are blank. The same pages here use
FastAPI's HTML builders, pointed at the JavaScript and CSS that the ``fastapi-offline``
package ships (Swagger UI 5 and ReDoc 2, kept current by its maintainer): nothing to copy by
hand, and no request leaves the machine (``tests/test_browser.py`` checks it in Chromium).
The package's Python code is never imported; only its folder of assets is read.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_PACKAGE = "fastapi_offline"
# Swagger UI's default asks validator.swagger.io to judge the schema (a badge) whenever the
# page is not on localhost: off, so a deployed server's page stays offline too.
SWAGGER_PARAMETERS = {"validatorUrl": None}
# And the browser itself refuses anything from elsewhere: ReDoc 2 shows Redocly's logo from
# cdn.redoc.ly, hard-coded; under this policy it is not fetched (ReDoc then hides it). Inline
# scripts and styles: FastAPI's pages start the UI in one, and both UIs style themselves so.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "base-uri 'self'",
        "frame-ancestors 'self'",
    )
)


def assets_dir() -> Path:
    """The folder of Swagger UI's and ReDoc's files, found without importing their package."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{ASSETS_PACKAGE} is not installed (a runtime dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def add_docs_pages(app: FastAPI) -> None:
    """``/docs``, its OAuth2 redirect page, ``/redoc`` and their assets, none in the schema.

    The app must be created with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off).
    """
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    swagger_ui = _page(
        app,
        partial(get_swagger_ui_html, swagger_ui_parameters=SWAGGER_PARAMETERS),
        "Swagger UI",
        oauth2_redirect_url=redirect_url,
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
    )
    redoc = _page(
        app,
        partial(get_redoc_html, with_google_fonts=False),
        "ReDoc",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
    )

    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(redirect_url, swagger_ui_redirect, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)


def _page(
    app: FastAPI, build: Callable[..., HTMLResponse], name: str, **paths: str
) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """An endpoint answering FastAPI's page ``build`` with ``paths`` under the app's root."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def page(request: Request) -> HTMLResponse:
        root = _root(request)
        urls = {argument: f"{root}{path}" for argument, path in paths.items()}
        html = build(openapi_url=f"{root}{openapi_url}", title=f"{app.title} - {name}", **urls)
        return _local_only(html)

    return page


def _local_only(page: HTMLResponse) -> HTMLResponse:
    """The page, with the policy that lets the browser load nothing from another host."""
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _root(request: Request) -> str:
    """The prefix a proxy serves the app under (``--root-path``), for the pages' links."""
    return str(request.scope.get("root_path", "")).rstrip("/")
