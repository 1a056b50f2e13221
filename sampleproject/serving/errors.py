"""Every error answer has one JSON shape (:class:`~sampleproject.serving.schemas.ErrorBody`).

A bad payload is a 4xx with the field that is wrong, never a 500; a bug is a 500 that tells
the client nothing of the internals (the log has the traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

logger = logging.getLogger("sampleproject.serving")

INTERNAL_ERROR = "internal error (see the server's log)"
# The status counted for a request whose connection closed before its body was whole: the
# client went away, or the server closed it at the body timeout (the client got a 408).
# Nobody receives it; the code is nginx's "client closed request".
CLIENT_CLOSED = 499


def add_error_handlers(app: FastAPI) -> None:
    """Answer validation errors, HTTP errors and unexpected exceptions as :func:`error`."""
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = list(exc.errors())
    if problems and problems[0]["type"] == "json_invalid":
        position = problems[0]["loc"][-1]
        reason = problems[0].get("ctx", {}).get("error", "JSON decode error")
        return error(400, f"invalid JSON: {reason} (at character {position})")
    details = [
        {"location": _location(problem["loc"]), "message": _message(problem)}
        for problem in problems
    ]
    first = details[0]
    return error(422, f"invalid request: {first['location']}: {first['message']}", details)


async def _http_error(_request: Request, exc: HTTPException) -> Response:
    if isinstance(exc.__cause__, ClientDisconnect):  # FastAPI's 400 for a body cut short
        return error(CLIENT_CLOSED, "the connection closed before the request's body ended")
    return error(exc.status_code, str(exc.detail), headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error", exc_info=exc)
    return error(500, INTERNAL_ERROR)


def error(
    status: int,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error answer: ``{"error": message, "details": [...]}``."""
    return JSONResponse(error_body(message, details), status, headers=headers)


def error_body(message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The body of every error answer (:class:`~sampleproject.serving.schemas.ErrorBody`)."""
    return {"error": message, "details": details or []}


def _location(loc: tuple[int | str, ...]) -> str:
    """``("body", "many", 2, "legs")`` -> ``[2].legs``; the union's tags are left out."""
    parts = [part for part in loc if part not in ("body", "one", "many")]
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
    return text.lstrip(".") or "body"


def _message(problem: Any) -> str:
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    return str(problem["msg"]).removeprefix("Value error, ")
