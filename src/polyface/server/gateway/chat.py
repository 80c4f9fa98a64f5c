"""``POST /v1/chat/completions``: a persona answers in character, or the call goes to a provider.

For ``persona/<name>`` the persona's active avatar's text model answers with the persona's system prompt
first and the client's messages after it (the client's messages are the memory: nothing is stored).
``stream: true`` answers with server-sent events, ``data: {chunk}`` each, ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from functools import partial
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from polyface.server.gateway.errors import from_polyface
from polyface.server.gateway.schemas import ChatCompletionRequest
from polyface.server.gateway.shapes import ChunkMaker, completion_body, cost_headers
from polyface.server.gateway.targets import Target, text_target
from polyface.server.ops import metrics_of
from polyface.types.text import TextDelta
from polyface.types.usage import Usage

log = logging.getLogger("polyface.server.gateway")

_END = object()


def _messages(target: Target, body: ChatCompletionRequest) -> list[dict[str, Any]]:
    messages = body.message_dicts()
    if target.system_prompt:
        messages = [{"role": "system", "content": target.system_prompt}, *messages]
    return messages


def _extra(target: Target) -> dict[str, Any]:
    return {"provider": target.provider, "provider_model": target.model, "persona": target.persona}


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    studio = request.app.state.studio
    target = await run_in_threadpool(text_target, studio, body.model)
    text = await run_in_threadpool(lambda: studio.adapter(target.provider).text)
    arguments: dict[str, Any] = {"model": target.model, "messages": _messages(target, body), **body.options()}
    if body.stream:
        deltas = await run_in_threadpool(partial(text.stream, **arguments))
        return await _stream(request, body, deltas)
    reply = await run_in_threadpool(partial(text.generate, **arguments))
    metrics_of(request.app).record_usage(body.model, reply.usage, reply.cost)
    return JSONResponse(completion_body(body.model, reply, _extra(target)), headers=cost_headers(reply.cost))


def _close(stream: Iterable[TextDelta], deltas: Iterator[TextDelta]) -> None:
    """Stop the provider's stream (a client that went away frees the connection or the model at once)."""
    for target in (deltas, stream):
        close = getattr(target, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception as exc:  # a piece is still being made in a worker thread: it ends with the stream
            log.debug("gateway stream close: %s", exc)


async def _stream(request: Request, body: ChatCompletionRequest, stream: Iterable[TextDelta]) -> Response:
    deltas = iter(stream)
    # the first piece is read before answering: a bad option or an unreachable provider is an HTTP error
    first = await run_in_threadpool(next, deltas, _END)
    maker = ChunkMaker(body.model)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    metrics = metrics_of(request.app)

    async def events() -> AsyncIterator[bytes]:
        usage: Usage | None = None
        cost: float | None = None
        piece: Any = first
        try:
            yield _sse(maker.first())
            while piece is not _END:
                delta: TextDelta = piece
                if delta.usage is not None:
                    usage, cost = delta.usage, delta.cost
                if delta.text or delta.tool_calls or delta.finish_reason:
                    yield _sse(maker.of(delta))
                piece = await run_in_threadpool(next, deltas, _END)
            if include_usage:
                yield _sse(maker.usage(usage, cost))
            yield _sse("[DONE]")
        except Exception as exc:
            error = from_polyface(exc)
            log.warning("gateway stream for %s failed: %s", body.model, error.message)
            yield _sse(error.body())
        finally:
            metrics.record_usage(body.model, usage, cost)
            _close(stream, deltas)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
