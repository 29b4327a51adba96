"""What one app instance holds (settings, the assistant, limits, feedback) and the FastAPI dependencies."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from assistant.feedback import FeedbackStore
from assistant.jobs import Jobs
from assistant.limits import ConcurrencyGate, RateLimiter
from assistant.pool import AssistantPool
from assistant.service import Assistant
from kysy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """Everything one app instance shares between requests; made by ``create_app``, never global."""

    settings: Settings
    assistants: AssistantPool
    limiter: RateLimiter
    admin_failures: RateLimiter
    gate: ConcurrencyGate
    feedback: FeedbackStore
    jobs: Jobs

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        """A fresh state for ``settings``."""
        assistants = AssistantPool(settings)
        return cls(
            settings=settings,
            assistants=assistants,
            limiter=RateLimiter(settings.rate_limit_per_minute, cost_ms=settings.rate_limit_cost_ms),
            admin_failures=RateLimiter(settings.admin_failures_per_minute),
            gate=ConcurrencyGate(settings.max_concurrency),
            feedback=FeedbackStore(settings.feedback_path, max_bytes=settings.feedback_max_mb * 1_000_000),
            jobs=Jobs(settings, assistants),
        )


def app_state(request: Request) -> AppState:
    """Dependency: the state of the app serving ``request``."""
    state: AppState = request.app.state.kysy
    return state


async def get_assistant(request: Request) -> AsyncIterator[Assistant]:
    """Dependency: the current generation's assistant, held open until the response has been sent
    (a streamed one included), however many reindexes happen meanwhile.

    Raises:
        IndexNotBuiltError: there is no index yet (the API answers 503).
    """
    lease = await app_state(request).assistants.lease()
    try:
        yield lease.assistant
    finally:
        lease.release()


def client_address(request: Request) -> str:
    """The client as the server resolved it: the peer address, or the forwarded one when the peer is a
    trusted proxy (``--proxy-headers`` with ``--forwarded-allow-ips``); headers are never read here."""
    return request.client.host if request.client else "unknown"


async def rate_limit(request: Request) -> None:
    """Dependency: one token of the calling client's bucket (429 when it is empty)."""
    app_state(request).limiter.check(client_address(request))


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
"""Route parameter type: the app's assistant, injected."""
