"""Request limits: body size (refused before it is read), per-client rate limit, global concurrency cap."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.http_errors import ApiError

_MAX_CLIENTS = 10_000  # buckets kept before idle (full) ones are dropped


class BodySizeLimit:
    """ASGI middleware: answer 413 JSON when a request body exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused without reading anything; otherwise the
    body is counted as it arrives and refused as soon as the count passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body, then hand the request on with the buffered body replayed."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        buffered: deque[Message] = deque()
        total = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.popleft() if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": "too_large", "message": f"the request body is larger than {self.max_bytes} bytes"}
        ).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests a minute, bursts up to ``per_minute``.

    ``per_minute == 0`` turns the limit off.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client``.

        Raises:
            ApiError: 429 with ``Retry-After`` (whole seconds) when the bucket is empty.
        """
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self._rate))
                raise ApiError(
                    429, "rate_limited", f"too many questions; try again in {wait} s",
                    {"Retry-After": str(wait)},
                )
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > _MAX_CLIENTS:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing."""
        full_after = self.per_minute / self._rate
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[key]


class ConcurrencyGate:
    """At most ``limit`` requests in the answering section at once; the next one is refused, never queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    def enter(self) -> Slot:
        """Take a place.

        Raises:
            ApiError: 503 with ``Retry-After`` when all places are taken.
        """
        with self._lock:
            if self.active >= self.limit:
                raise ApiError(
                    503, "busy", "the service is answering as many questions as it can; try again in a moment",
                    {"Retry-After": "1"},
                )
            self.active += 1
        return Slot(self)

    def _leave(self) -> None:
        with self._lock:
            self.active -= 1


class Slot:
    """A taken place of a ``ConcurrencyGate``; ``release`` is safe to call more than once."""

    def __init__(self, gate: ConcurrencyGate) -> None:
        self._gate = gate
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        """Give the place back (only the first call counts)."""
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._gate._leave()
