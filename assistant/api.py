"""The HTTP service: ``create_app(settings)`` assembles routes, limits, security headers and error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from assistant import openai_compat, routes_admin, routes_chat, routes_docs, routes_documents
from assistant.app_state import AppState
from assistant.head import HeadAsGet
from assistant.http_errors import install_error_handlers
from assistant.limits import BodySizeLimit
from assistant.openai_errors import OpenAIErrorShape
from assistant.openapi import install_openapi
from assistant.request_ids import RequestIds
from assistant.security import install_security
from kysy.errors import ConfigError, IndexNotBuiltError
from kysy.models import web_address
from kysy.settings import Settings

logger = logging.getLogger(__name__)

MIN_ADMIN_TOKEN_CHARS = 32


def check_settings(settings: Settings) -> None:
    """Refuse settings the service must not start with.

    Raises:
        ConfigError: an admin token shorter than ``MIN_ADMIN_TOKEN_CHARS`` characters, or a public
            address that is not http(s).
    """
    if settings.public_url and not web_address(settings.public_url):
        raise ConfigError(f"KYSY_PUBLIC_URL must be an http(s) address such as https://kysy.example.fi, got {settings.public_url!r}")
    token = settings.admin_token
    if token and len(token.strip()) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(
            f"KYSY_ADMIN_TOKEN has {len(token.strip())} characters; it must have at least {MIN_ADMIN_TOKEN_CHARS}. "
            "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (its own assistant, limits and feedback store; nothing global).

    The index is opened at startup when it exists; otherwise ``/readyz`` answers 503 and the
    chat routes answer 503 ``index_not_built`` until an ingest has built it.

    Raises:
        ConfigError: the settings are not safe to serve with (``check_settings``).
    """
    settings = settings or Settings()
    check_settings(settings)
    state = AppState.from_settings(settings)
    if not settings.corpus_dir.is_dir():
        logger.warning(
            "KYSY_CORPUS_DIR %s is not a directory: uploads and reindexing are refused until it exists",
            settings.corpus_dir,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token and settings.corpus_dir.is_dir():
            await run_in_threadpool(routes_documents.remove_stale_staging, settings.corpus_dir)
        try:
            await run_in_threadpool(state.assistants.refresh)
        except IndexNotBuiltError as exc:
            # Clients are told no more than the message; the operator also gets where the index was looked for.
            logger.warning("starting without a usable index at %s: %s", settings.index_path, exc)
        yield
        state.assistants.close()

    app = FastAPI(
        title="Kysy",
        summary="Cited answers over Kuntaliitto's yhdyspinnat materials.",
        version="0.1.0",
        lifespan=lifespan,
        # The Swagger/ReDoc pages load scripts from a CDN, which the pages' CSP (and an offline
        # deployment) forbids; the schema itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.kysy = state
    install_error_handlers(app)
    app.include_router(routes_chat.router)
    app.include_router(openai_compat.router)
    app.include_router(routes_docs.router)
    app.include_router(routes_admin.router)
    if settings.admin_token:
        app.include_router(routes_admin.admin_router)
        app.include_router(routes_documents.router)
    else:
        app.include_router(routes_admin.disabled_router)
    # Added first, so it runs last, next to the routes: everything outside it (the access log too) sees HEAD.
    app.add_middleware(HeadAsGet)
    install_security(app, settings)
    install_openapi(app, settings)
    # Added late, so it runs early: an oversized or slow body is refused before anything reads it.
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s,
        larger={routes_documents.UPLOAD_PATH: settings.max_file_mb * 1_000_000 + 100_000},
        upload_timeout_s=settings.upload_timeout_s,
    )
    # Outermost: every response (a refused body's too) carries the request id, and every failure inside is logged once.
    app.add_middleware(RequestIds)
    # Around all of it: every error under /v1/, whoever answered it, in OpenAI's shape.
    app.add_middleware(OpenAIErrorShape)
    return app
