"""HEAD wherever GET is: GET's status and headers, no body (link checkers and monitors ask with HEAD).

FastAPI's routes take only the methods they name, and naming HEAD on a route would put a second operation
(with a clashing operation id) into the OpenAPI schema; this middleware instead routes a HEAD request as its
GET, so the schema lists GET alone. A path that takes no GET answers HEAD as it answers GET: 405 with its
``Allow`` (``assistant/http_errors.py`` lists HEAD beside every GET).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a HEAD request is answered as the same GET would be, its body left out.

    The GET runs in full (a file is read to be dropped), so a HEAD never costs more than its GET.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass GET's response start through (``Content-Length`` included) and end it without a body."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        # A copy: the server and the outer middleware (the access log, request ids) still see HEAD.
        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
