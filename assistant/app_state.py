"""What one app instance holds (settings, the assistant, limits, feedback) and the FastAPI dependencies."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from assistant.feedback import FeedbackStore
from assistant.limits import ConcurrencyGate, RateLimiter
from assistant.service import Assistant
from kysy.errors import IndexNotBuiltError
from kysy.settings import Settings

logger = logging.getLogger(__name__)


class AssistantHolder:
    """Opens the ``Assistant`` once the index exists; until then every use raises ``IndexNotBuiltError``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._assistant: Assistant | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> Assistant | None:
        """The assistant if it is open, else None (never blocks)."""
        return self._assistant

    def get(self) -> Assistant:
        """The assistant, opening it on first use (blocking: call from a worker thread).

        Raises:
            IndexNotBuiltError: there is no index yet.
        """
        if self._assistant is not None:
            return self._assistant
        with self._lock:
            if self._assistant is None:
                if not self.settings.index_path.exists():
                    raise IndexNotBuiltError(
                        f"no index at {self.settings.index_path}: run `kysy ingest corpus` first"
                    )
                self._assistant = Assistant(self.settings)
                logger.info("index loaded: generation %d", self._assistant.snapshot.generation)
            return self._assistant

    async def ready(self) -> Assistant:
        """The assistant, opened in a worker thread when needed (so the event loop never waits on it).

        Raises:
            IndexNotBuiltError: there is no index yet.
        """
        assistant = self._assistant
        if assistant is not None:
            return assistant
        opened: Assistant = await run_in_threadpool(self.get)
        return opened


@dataclass
class AppState:
    """Everything one app instance shares between requests; made by ``create_app``, never global."""

    settings: Settings
    assistants: AssistantHolder
    limiter: RateLimiter
    gate: ConcurrencyGate
    feedback: FeedbackStore
    reindex_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        """A fresh state for ``settings``."""
        return cls(
            settings=settings,
            assistants=AssistantHolder(settings),
            limiter=RateLimiter(settings.rate_limit_per_minute),
            gate=ConcurrencyGate(settings.max_concurrency),
            feedback=FeedbackStore(settings.feedback_path),
        )


def app_state(request: Request) -> AppState:
    """Dependency: the state of the app serving ``request``."""
    state: AppState = request.app.state.kysy
    return state


async def get_assistant(request: Request) -> Assistant:
    """Dependency: the assistant (opened in a worker thread if needed).

    Raises:
        IndexNotBuiltError: there is no index yet (the API answers 503).
    """
    return await app_state(request).assistants.ready()


async def rate_limit(request: Request) -> None:
    """Dependency: one token of the calling client's bucket (429 when it is empty)."""
    client = request.client.host if request.client else "unknown"
    app_state(request).limiter.check(client)


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
"""Route parameter type: the app's assistant, injected."""
