"""Errors of the OpenAI-compatible routes in OpenAI's shape.

OpenAI clients read an error as ``{"error": {"message", "type", "param", "code"}}``: the SDKs raise their
exception for the status and take ``code`` and ``type`` from it. Kysy's own routes answer
``{"error": code, "message": text}`` (``assistant/http_errors.py``), and so do the parts of the app that
refuse a request before any route sees it (the body limit, the rate limit, a full server). So that every
error under ``/v1/`` is OpenAI's, the ``OpenAIErrorShape`` middleware rewrites those bodies there: the code
and message stay, the type follows the status.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1/"
# The largest error body rewritten (Kysy's own are well under it); a larger one passes as it is.
_MAX_BODY = 64_000


class OpenAIErrorDetail(BaseModel):
    """What went wrong, as OpenAI words it."""

    message: str
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error or server_error.")
    param: str | None = Field(default=None, description="The request field at fault, when one is.")
    code: str | None = Field(default=None, description="Kysy's error code (model_not_found, invalid_request, ...).")


class OpenAIError(BaseModel):
    """The body of an OpenAI-style error (``{"error": {...}}``)."""

    error: OpenAIErrorDetail


def error_type(status: int) -> str:
    """OpenAI's ``type`` for an HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """The OpenAI-style body of an error."""
    return OpenAIError(error=OpenAIErrorDetail(message=message, type=error_type(status), param=param, code=code)).model_dump()


class OpenAIErrorShape:
    """ASGI middleware: under ``/v1/``, an error answered as ``{"error": code, "message": text}`` goes out in
    OpenAI's shape; every other response, and an error already in OpenAI's shape, passes as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold back an error's start until its body shows its shape."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = b""

        async def reshape(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _is_json(message):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body", False) and len(body) <= _MAX_BODY:
                return
            held, start = start, None
            rewritten = _rewritten(held["status"], body) if not message.get("more_body", False) else None
            if rewritten is not None:
                headers = MutableHeaders(scope=held)
                headers["content-length"] = str(len(rewritten))
            await send(held)
            await send({"type": "http.response.body", "body": rewritten if rewritten is not None else body,
                        "more_body": message.get("more_body", False)})

        await self.app(scope, receive, reshape)


def _is_json(message: Message) -> bool:
    return Headers(scope=message).get("content-type", "").startswith("application/json")


def _rewritten(status: int, body: bytes) -> bytes | None:
    """The OpenAI-shaped body of Kysy's ``{"error": code, "message": text}``; None for any other body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("error"), str) or not isinstance(data.get("message"), str):
        return None
    return json.dumps(openai_error(status, data["error"], data["message"]), ensure_ascii=False).encode()
