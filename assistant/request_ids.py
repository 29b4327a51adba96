"""Request ids: one per request, taken from ``X-Request-ID`` or made, echoed back and put in its log lines.

The id lives in a context variable for the request's time, so every log line written on its behalf (the
access line, an error, a warning of a route) can carry it through ``RequestIdFilter``. The middleware is
also where an unexpected exception ends: logged once, with the method, path and id, and answered as a
JSON 500 (Starlette's own error middleware would log it and hand it on for uvicorn to log again).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.http_errors import error_response

logger = logging.getLogger(__name__)

HEADER = "X-Request-ID"
# A client's (or proxy's) id is taken only when it is short and cannot forge or break a log line.
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

REQUEST_ID: ContextVar[str | None] = ContextVar("kysy_request_id", default=None)


def request_id_of(header: str | None) -> str:
    """The request's id: ``header`` when it is 1..64 of ``A-Z a-z 0-9 . _ : -``, else a new random one."""
    if header and _VALID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_tag``: `` [request <id>]`` inside a request, else empty."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        record.request_tag = f" [request {request_id}]" if request_id else ""
        return True


def log_config(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (uvicorn's logging configuration) with the request tag at the end of every line it formats."""
    config = {**base, "filters": {**base.get("filters", {}), "request_id": {"()": RequestIdFilter}}}
    config["formatters"] = {
        name: {**formatter, "fmt": formatter["fmt"] + "%(request_tag)s"} if "fmt" in formatter else formatter
        for name, formatter in base.get("formatters", {}).items()
    }
    config["handlers"] = {
        name: {**handler, "filters": [*handler.get("filters", []), "request_id"]}
        for name, handler in base.get("handlers", {}).items()
    }
    return config


class RequestIds:
    """ASGI middleware: the request's id in context and in the ``X-Request-ID`` response header; an
    unexpected exception logged once and answered as a JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(HEADER.lower().encode(), b"").decode("latin-1")
        request_id = request_id_of(raw)
        token = REQUEST_ID.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # the one place an unexpected error is logged; uvicorn is not handed it again
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = error_response(500, "internal_error", "the server failed to handle the request; try again later")
                await response(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
