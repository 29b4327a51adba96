"""CORS for the configured origins only, and security headers on every response."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kysy.settings import Settings


def content_security_policy(frame_ancestors: str) -> str:
    """The CSP of the HTML pages: only this origin's scripts, styles and API; framing as configured."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; frame-ancestors {frame_ancestors}; base-uri 'none'; object-src 'none'"
    )


class SecurityHeaders:
    """ASGI middleware: ``nosniff`` and ``no-referrer`` everywhere, the CSP on HTML responses.

    A response that sets its own ``Content-Security-Policy`` keeps it.
    """

    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        self.csp = content_security_policy(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                is_html = headers.get("content-type", "").startswith("text/html")
                if is_html and "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = self.csp
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    """CORS headers only for ``settings.cors_origins`` (never with credentials), and the security headers."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Accept"],
            # The widget reads Retry-After to tell how long to wait after a 429.
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
