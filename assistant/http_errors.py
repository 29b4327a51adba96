"""HTTP errors as JSON ``{"error": code, "message": text}``: the one place exceptions become status codes."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route

from kysy.errors import (
    ConfigError,
    CorruptDocumentError,
    IndexLockedError,
    IndexNotBuiltError,
    IngestCancelledError,
    InvalidInputError,
    KysyError,
    LLMError,
    StorageError,
    UnsupportedFileError,
)

logger = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status.
_STATUS: tuple[tuple[type[KysyError], int], ...] = (
    (IndexNotBuiltError, 503),
    (InvalidInputError, 422),
    (IndexLockedError, 409),
    (IngestCancelledError, 409),
    (StorageError, 507),
    (LLMError, 502),
    (UnsupportedFileError, 415),
    (CorruptDocumentError, 422),
    (ConfigError, 500),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    431: "headers_too_large",
    429: "rate_limited",
    503: "busy",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and a JSON body; ``headers`` go on the response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response every failure of the API uses."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def kysy_status(exc: KysyError) -> int:
    """The HTTP status of a Kysy error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


# What a request body must be, said when it is none, a form, or JSON that is not an object.
_NOT_AN_OBJECT = "send a JSON object as the request body, with Content-Type: application/json"
# What Starlette's request parsing says of a body it cannot decode (not UTF-8): FastAPI makes it a 400.
_UNREADABLE_BODY = "There was an error parsing the body"


def validation_message(exc: RequestValidationError) -> str:
    """One readable line from pydantic's error list, e.g. ``body.question: String should have at least 1 character``."""
    parts = []
    for error in exc.errors()[:5]:
        loc = ".".join(str(part) for part in error.get("loc", ()))
        msg = error.get("msg", "invalid value")
        if error.get("type") == "json_invalid":
            loc, msg = "", "the request body is not valid JSON"
        elif tuple(error.get("loc", ())) == ("body",):  # no body, a form, or JSON that is no object
            loc, msg = "", _NOT_AN_OBJECT if error.get("type") != "missing" else "the request body is empty; " + _NOT_AN_OBJECT
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at this path (a 405's ``Allow``; routes of one path
    may be several, e.g. GET and POST with handlers of their own), and HEAD where GET is (``assistant/head.py``)."""
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of ``routes``, those of an included router too (FastAPI keeps an included router whole, as
    its ``original_router``, instead of copying its routes into the app's)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _routes(nested.routes)
        else:
            yield route


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON ``{error, message}`` body with the right status (an unexpected
    exception: ``assistant/request_ids.py``, which logs it once)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(KysyError)
    async def _kysy_error(request: Request, exc: KysyError) -> JSONResponse:
        status = kysy_status(exc)
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:  # as any other body that is not JSON
            return error_response(422, "invalid_request", "the request body is not valid JSON (it must be UTF-8)")
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such resource: {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, code, message, headers)
