"""Request limits: body size and time (refused before it is read), per-client rate limit by cost, global concurrency cap."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.http_errors import ApiError

_MAX_CLIENTS = 10_000  # buckets kept before idle (full) ones are dropped


class BodySizeLimit:
    """ASGI middleware: answer 413 JSON when a request body exceeds ``max_bytes``, 408 when it takes
    longer than ``timeout_s`` to arrive.

    A declared ``Content-Length`` over the limit is refused without reading anything; otherwise the
    body is counted as it arrives and refused as soon as the count passes the limit. Paths in
    ``larger`` (an upload) have their own limit and time, and stream on to the app unbuffered.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0, larger: dict[str, int] | None = None,
        upload_timeout_s: float = 600.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.larger = larger or {}
        self.upload_timeout_s = upload_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body, then hand the request on with the buffered body replayed."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, 413, "too_large", f"the request body is larger than {limit} bytes")
            return
        if scope["path"] in self.larger:
            # An upload streams on to the app (to a file), counted and timed as it comes.
            await self.app(scope, _counted(receive, limit, self.upload_timeout_s), send)
            return
        buffered: deque[Message] = deque()
        total = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                await _refuse(send, 408, "body_timeout", f"the request body did not arrive within {self.timeout_s:g} s")
                return
            buffered.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > limit:
                await _refuse(send, 413, "too_large", f"the request body is larger than {limit} bytes")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.popleft() if buffered else await receive()

        await self.app(scope, replay, send)


def _counted(receive: Receive, limit: int, timeout_s: float) -> Receive:
    """``receive`` that raises 413 once more than ``limit`` bytes came, 408 after ``timeout_s``."""
    total = 0
    deadline = time.monotonic() + timeout_s
    complete = False

    async def counting() -> Message:
        nonlocal total, complete
        if complete:  # the body is in: what comes now is the client leaving, which has no deadline
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise ApiError(408, "body_timeout", f"the upload did not arrive within {timeout_s:g} s") from exc
        complete = message.get("type") != "http.request" or not message.get("more_body", False)
        total += len(message.get("body", b""))
        if total > limit:
            raise ApiError(413, "too_large", f"the upload is larger than {limit} bytes")
        return message

    return counting


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    """Answer with the JSON error and close the connection (the rest of the body is never read)."""
    body = json.dumps({"error": code, "message": message}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per client: ``per_minute`` tokens a minute, bursts up to ``per_minute``.

    A request takes one token when it starts (``check``); with ``cost_ms`` an answer that worked
    longer is charged more afterwards (``charge``), so one client's expensive requests use up its
    own budget, not the service's. ``per_minute == 0`` turns the limit off.
    """

    def __init__(self, per_minute: int, *, cost_ms: int = 0, what: str = "too many questions") -> None:
        self.per_minute = per_minute
        self.cost_ms = cost_ms
        self.what = what
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client``.

        Raises:
            ApiError: 429 with ``Retry-After`` (whole seconds) when the bucket is empty.
        """
        self.require(client)
        self.spend(client, 1.0)

    def require(self, client: str) -> None:
        """Refuse ``client`` while its bucket is empty, without taking a token.

        Raises:
            ApiError: 429 with ``Retry-After`` (whole seconds).
        """
        if self.per_minute <= 0:
            return
        with self._lock:
            tokens = self._tokens(client, time.monotonic())
        if tokens < 1.0:
            wait = max(1, math.ceil((1.0 - tokens) / self._rate))
            raise ApiError(429, "rate_limited", f"{self.what}; try again in {wait} s", {"Retry-After": str(wait)})

    def spend(self, client: str, tokens: float) -> None:
        """Take ``tokens`` from ``client``'s bucket; it may go into debt down to one minute's worth."""
        if self.per_minute <= 0 or tokens <= 0:
            return
        now = time.monotonic()
        with self._lock:
            left = max(-float(self.per_minute), self._tokens(client, now) - tokens)
            self._buckets[client] = (left, now)
            if len(self._buckets) > _MAX_CLIENTS:
                self._forget_idle(now)

    def charge(self, client: str, seconds: float) -> None:
        """Charge an answer that took ``seconds`` beyond its first token: one more per ``cost_ms`` of work."""
        if self.cost_ms > 0:
            self.spend(client, math.ceil(seconds * 1000 / self.cost_ms) - 1)

    def _tokens(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - last) * self._rate)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing."""
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.per_minute]:
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
