"""The OpenAPI schema, complete: every error response each route can give, and every limit with its value.

Routes declare the errors that are theirs (``error_responses``); ``install_openapi`` adds the ones
every request can meet (malformed HTTP, headers too large, a body too large or too slow, too many
connections) and writes the configured limits into the descriptions and the JSON schema, so a
client generated from ``/openapi.json`` knows them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from assistant.openai_errors import PREFIX as OPENAI_PREFIX
from assistant.openai_errors import OpenAIError, OpenAIErrorDetail
from assistant.schemas import ErrorBody
from kysy.settings import Settings

SSE_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event: its name (`token`, `done`, `error`; none for OpenAI chunks) and JSON data.",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}
"""The schema of each event of a ``text/event-stream`` response."""

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for these error statuses (JSON ``{error, message}``)."""
    return {status: {"model": ErrorBody, "description": "Error"} for status in statuses}


def _descriptions(s: Settings) -> dict[int, str]:
    return {
        400: "`bad_request`: not a valid HTTP request (broken framing or headers).",
        401: "`unauthorized`: a valid admin token is required (`Authorization: Bearer <token>`).",
        404: "`not_found`, `document_not_found`, `file_missing` or `job_not_running`.",
        408: f"`body_timeout`: the request body did not arrive within {s.body_timeout_s:g} s (KYSY_BODY_TIMEOUT_S).",
        409: "`index_locked`: an index job (or an ingest) is already running; `reindex_cancelled`: with "
        "`wait=true`, the job was cancelled and the index is as it was.",
        415: "`unsupported_file`: not one of the six supported formats (pdf, docx, pptx, txt, md, html).",
        413: (
            f"`too_large`: the body is over {s.max_body_bytes} bytes (KYSY_MAX_BODY_BYTES); `question_too_long`: "
            f"over {s.max_question_chars} characters; `history_too_long`: over {s.max_history_turns} turns, "
            f"a message over {s.max_history_message_chars} characters or all of them over {s.max_history_chars}."
        ),
        422: "`invalid_request`: not JSON, a missing field or one of the wrong type or size, or text that is "
        "not valid Unicode (e.g. an unpaired surrogate).",
        429: (
            f"`rate_limited`: the client's {s.rate_limit_per_minute} requests a minute (KYSY_RATE_LIMIT_PER_MINUTE; "
            f"an answer costs one more per {s.rate_limit_cost_ms} ms of work), or "
            f"{s.admin_failures_per_minute} wrong admin tokens a minute, are used up; wait `Retry-After` seconds."
        ),
        431: f"`headers_too_large`: the request line and headers are over {s.max_header_bytes} bytes.",
        500: "`corpus_missing`: the corpus directory (KYSY_CORPUS_DIR) does not exist; `internal_error`: the server "
        "failed (its log has the request's `X-Request-ID`).",
        503: (
            f"`busy`: {s.max_concurrency} answers are being written (KYSY_MAX_CONCURRENCY) or "
            f"{s.max_connections} connections are open; `index_not_built`: no index yet; `index_mismatch`: the "
            "index was built with another embedder than KYSY_EMBEDDER. Retry after `Retry-After`. "
            "`shutting_down`: the server is stopping (an admin request with `wait=true` before its job ended)."
        ),
        507: f"`storage_full`: the feedback store has reached {s.feedback_max_mb} MB (KYSY_FEEDBACK_MAX_MB).",
    }


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve ``/openapi.json`` with every error response and the limits of ``settings``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, description=app.description,
                routes=app.routes,
            )
            complete_schema(schema, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_schema(schema: dict[str, Any], settings: Settings) -> None:
    """Add the errors every request can meet and the limits of ``settings`` to ``schema`` (in place)."""
    descriptions = _descriptions(settings)
    models = schema.setdefault("components", {}).setdefault("schemas", {})
    models.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for name, model in (("OpenAIError", OpenAIError), ("OpenAIErrorDetail", OpenAIErrorDetail)):
        models.setdefault(name, model.model_json_schema(ref_template="#/components/schemas/{model}"))
    models["OpenAIError"].pop("$defs", None)
    for path, methods in schema.get("paths", {}).items():
        # Every error under /v1/ is OpenAI's {"error": {...}} (assistant/openai_errors.py), the others {error, message}.
        shape = "OpenAIError" if path.startswith(OPENAI_PREFIX) else "ErrorBody"
        error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}}
        for method, operation in methods.items():
            common = {400, 431, 503} | ({408, 413} if method in ("post", "put", "patch", "delete") else set())
            responses = operation.setdefault("responses", {})
            for status in sorted(common | {int(code) for code in responses if code.isdigit() and int(code) >= 400}):
                declared = responses.get(str(status), {})
                if declared.get("description") not in (None, "Error", "Validation Error"):
                    continue  # a route's own error with its own shape (e.g. OpenAI's model_not_found)
                # Every other error is in the path's shape: also FastAPI's own 422 entry says so.
                entry = responses[str(status)] = {"description": descriptions.get(status, "Error"), "content": error}
                if status in (429, 503):
                    entry["headers"] = _RETRY_AFTER
        if path.startswith("/api/admin/"):
            for operation in methods.values():
                operation["security"] = [{"adminToken": []}]
    schema["components"]["securitySchemes"] = {
        "adminToken": {"type": "http", "scheme": "bearer", "description": "KYSY_ADMIN_TOKEN (at least 32 characters)"}
    }
    for unused in ("HTTPValidationError", "ValidationError"):
        models.pop(unused, None)
    _limits(models, settings)


def _limits(models: dict[str, Any], s: Settings) -> None:
    """The configured size limits as JSON-schema constraints of the request models."""
    chat = models.get("ChatRequest", {}).get("properties", {})
    if "question" in chat:
        chat["question"]["maxLength"] = s.max_question_chars
    if "history" in chat:
        chat["history"]["maxItems"] = s.max_history_turns
    turn = models.get("HistoryTurn", {}).get("properties", {})
    if "content" in turn:
        turn["content"]["maxLength"] = s.max_history_message_chars
