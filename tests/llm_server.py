"""A scripted OpenAI-compatible chat completions server for tests (a fake LLM behind the real protocol).

``ScriptedLLM.reply`` is what the next completion says; ``delay_s`` makes it answer late and
``status`` makes it fail. Condense requests (the follow-up rewrite) get ``condensed``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.generate import CONDENSE_PROMPT


@dataclass
class ScriptedLLM:
    """What the server answers, changed by the test between requests."""

    reply: str = ""
    condensed: str = ""
    delay_s: float = 0.0
    status: int = 200
    requests: list[dict[str, object]] = field(default_factory=list)


def _completion(text: str) -> dict[str, object]:
    return {
        "id": "cmpl-1", "object": "chat.completion", "created": int(time.time()), "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(text: str | None, finish: str | None = None) -> str:
    delta = {"content": text} if text is not None else {}
    body = {
        "id": "cmpl-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def create_llm_app(script: ScriptedLLM) -> FastAPI:
    """The FastAPI app speaking ``POST /v1/chat/completions`` with scripted replies."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> object:
        body = await request.json()
        script.requests.append(body)
        if script.delay_s:
            await asyncio.sleep(script.delay_s)
        if script.status != 200:
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=script.status)
        condense = any(m.get("content") == CONDENSE_PROMPT for m in body["messages"])
        text = script.condensed if condense else script.reply
        if not body.get("stream"):
            return JSONResponse(_completion(text))

        async def events() -> object:
            for word in text.split(" "):
                yield _chunk(word + " ")
            yield _chunk(None, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app
