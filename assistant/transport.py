"""HTTP/1.1 for ``kysy serve``: the h11 parser with a header-size limit, a header timeout and JSON errors.

uvicorn's default parser (httptools) takes request headers of any size and waits for them
forever; a client could hold memory and connections by sending a huge header or one byte a
minute. ``GuardedH11Protocol`` answers 431 once the request line and headers pass
``max_header_bytes`` (counted by this class; h11's own, larger limit is only a backstop), and
closes a connection whose headers are not complete ``header_timeout_s`` after it opened or
after its previous response (408). A connection beyond ``max_connections`` is answered 503 as
soon as it opens. The body's own limits are ``assistant/limits.py``'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

# h11 buffers at most this much beyond our own limit before it fails by itself.
_H11_SLACK = 1 << 20
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class KysyConfig(Config):
    """uvicorn's ``Config`` with the limits ``GuardedH11Protocol`` reads (picklable for worker processes)."""

    def __init__(
        self, app: Any, *, max_header_bytes: int, header_timeout_s: float, max_connections: int, **kwargs: Any
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections
        kwargs.setdefault("h11_max_incomplete_event_size", max_header_bytes + _H11_SLACK)
        super().__init__(app, http=GuardedH11Protocol, **kwargs)


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` with a header-size limit (431), a header timeout (408) and JSON error bodies."""

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_header_bytes: int = getattr(config, "max_header_bytes", 16_384)
        self.header_timeout_s: float = getattr(config, "header_timeout_s", 10.0)
        self.max_connections: int | None = getattr(config, "max_connections", None)
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers; 503 at once beyond the connection limit."""
        super().connection_made(transport)
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            logger.warning("more than %d connections open: refusing %s", self.max_connections, self.client)
            self._refuse(503, "busy", "the server has as many connections as it takes; try again in a moment")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the header clock with the connection."""
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count the bytes of a request's head as they come; 431 once they pass the limit."""
        if self.conn.their_state is h11.IDLE:
            if self._head_timer is None:
                self._arm_head_timer()
            window = self._tail + data
            end = _HEAD_END.search(window)
            size = self._head_bytes + (end.end() - len(self._tail) if end else len(data))
            if size > self.max_header_bytes:
                logger.warning("request headers over %d bytes from %s", self.max_header_bytes, self.client)
                self._refuse(
                    431, "headers_too_large", f"the request line and headers are over {self.max_header_bytes} bytes"
                )
                return
            self._head_bytes, self._tail = (0, b"") if end else (size, window[-3:])
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_bytes, self._tail = 0, b""
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        """A new request may follow: its headers get their own time."""
        super().on_response_complete()
        self._head_bytes, self._tail = 0, b""

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP: the JSON error every other failure uses."""
        self._refuse(400, "bad_request", "not a valid HTTP request")

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_bytes == 0:
            self.transport.close()  # opened (or kept alive) and silent: nothing to answer
            return
        logger.info("request headers from %s not complete within %g s", self.client, self.header_timeout_s)
        self._refuse(408, "header_timeout", f"the request headers did not arrive within {self.header_timeout_s:g} s")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Write a JSON error directly (the request never reached the app) and close."""
        body = json.dumps({"error": code, "message": message}).encode()
        retry = "retry-after: 1\r\n" if status == 503 else ""
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{retry}connection: close\r\n\r\n"
        ).encode()
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()


_REASONS = {
    400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large", 503: "Service Unavailable"
}
