"""Anthropic text: the Messages API (``POST /v1/messages``), whole or streamed, and ``count_tokens``.

The call is the same as every provider's (``generate(model=..., messages=[...])``); the translation from
OpenAI-style messages, tools and ``response_format`` lives in :mod:`polyface.wire.anthropic_messages`.

``max_tokens``, which Anthropic requires, defaults to 4096, or to the model's own output limit where the
catalog (``GET /v1/models``, read once) says it is lower; a ``max_tokens`` above that limit is refused before
anything is sent. ``complete()`` raises :class:`CapabilityNotSupported`: Anthropic's raw Text Completions API
(``/v1/complete``) is legacy and serves no current model; use ``generate`` (an ``assistant`` message last
makes Claude continue it, which is the Messages API's way to continue a text).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from polyface.errors import (
    CapabilityNotSupported,
    InvalidArgument,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    ServerError,
)
from polyface.providers._base.errors import error_class
from polyface.providers._base.secrets import redact
from polyface.providers._base.streams import AsyncTextStream, TextStream
from polyface.providers.anthropic.config import AnthropicConfig
from polyface.types.models import Pricing
from polyface.types.text import TextDelta, TextResponse
from polyface.wire import anthropic_messages as wire
from polyface.wire.sse import aiter_events, iter_events

COMPLETE = (
    "Anthropic's raw Text Completions API (/v1/complete) is legacy and serves no current Claude model, so "
    "polyface offers no Anthropic complete(); use text.generate(messages=[...]) (end with an assistant "
    "message to have Claude continue it)"
)
INCOMPLETE_HINT = "The partial text was delivered; ask again for the full reply."


class AnthropicText:
    """``.text`` for Anthropic: ``generate``/``agenerate``, ``stream``/``astream``, ``count_tokens``."""

    messages_path: ClassVar[str] = "/v1/messages"
    count_tokens_path: ClassVar[str] = "/v1/messages/count_tokens"

    def __init__(self, config: AnthropicConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._display = config.info.display_name

    # ---- requests ------------------------------------------------------------------------------------
    def _build(
        self,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The body, validated (nothing is sent); the model's own limit is applied by :meth:`_limit`."""
        return wire.build_request(
            model=model, messages=messages, system=system, options=options, provider=self._display
        )

    def _limit(self, body: dict[str, Any], options: Mapping[str, Any]) -> None:
        """Fit ``max_tokens`` to the model's output limit, where the (already fetched) catalog knows it."""
        info = self.config.known_model(body["model"])
        limit = info.max_output_tokens if info is not None else None
        if not limit:
            return
        if options.get("max_tokens") is None:
            body["max_tokens"] = min(int(body["max_tokens"]), limit)
        elif int(body["max_tokens"]) > limit:
            raise InvalidArgument(
                f"max_tokens={body['max_tokens']} is over {body['model']}'s limit of {limit} output tokens; "
                "ask for fewer."
            )

    def _prepare(self, body: dict[str, Any], options: Mapping[str, Any]) -> Pricing | None:
        pricing = self.config.catalog.pricing(body["model"])  # fetches the catalog once (with its limits)
        self._limit(body, options)
        return pricing

    async def _aprepare(self, body: dict[str, Any], options: Mapping[str, Any]) -> Pricing | None:
        pricing = await self.config.catalog.apricing(body["model"])
        self._limit(body, options)
        return pricing

    def _tokens(self, body: Mapping[str, Any]) -> int:
        return wire.estimate_tokens(body) if self.config.limiter.enabled else 0

    @staticmethod
    def _span_args(body: Mapping[str, Any]) -> dict[str, Any]:
        return {"max_tokens": body.get("max_tokens"), "temperature": body.get("temperature")}

    def _finish(self, call: Any, reply: TextResponse, body: Mapping[str, Any]) -> None:
        if self.config.limiter.enabled:
            self.config.limiter.charge(max(0, reply.usage.output_tokens - int(body.get("max_tokens") or 0)))
        call.finish(
            response_model=reply.model,
            response_id=reply.id,
            finish_reason=reply.finish_reason,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cost=reply.cost,
        )

    def _reply(self, data: Any, body: Mapping[str, Any], pricing: Pricing | None) -> TextResponse:
        reply = wire.parse_message(data, provider=self._provider, model=body["model"])
        reply.cost = wire.message_cost(pricing, reply.usage)
        return reply

    # ---- generate ------------------------------------------------------------------------------------
    def generate(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextResponse:
        """One reply to ``messages``. Options: max_tokens, temperature, top_p, top_k, stop, tools,
        tool_choice, parallel_tool_calls, response_format (a dict or a pydantic model class), metadata,
        user, thinking, service_tier, ... (``extra_body={...}`` for any other Anthropic field)."""
        body = self._build(model, messages, system, options)
        pricing = self._prepare(body, options)
        with self.config.telemetry.call("chat", model, **self._span_args(body)) as call:
            response = self.config.http.request(
                "POST", self.messages_path, json=body, timeout=timeout, tokens=self._tokens(body)
            )
            reply = self._reply(response.json(), body, pricing)
            self._finish(call, reply, body)
        return reply

    async def agenerate(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextResponse:
        body = self._build(model, messages, system, options)
        pricing = await self._aprepare(body, options)
        with self.config.telemetry.call("chat", model, **self._span_args(body)) as call:
            response = await self.config.http.arequest(
                "POST", self.messages_path, json=body, timeout=timeout, tokens=self._tokens(body)
            )
            reply = self._reply(response.json(), body, pricing)
            self._finish(call, reply, body)
        return reply

    def complete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        """Not offered: see the module docstring."""
        raise CapabilityNotSupported(
            self._display, "text.complete", reason=COMPLETE, offered_by=("together", "openai_compatible")
        )

    async def acomplete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        return self.complete(model=model, prompt=prompt, **options)

    # ---- count_tokens ------------------------------------------------------------------------------------
    def _count_body(
        self,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None,
        tools: Sequence[Mapping[str, Any]] | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body = self._build(model, messages, system, {**options, "tools": tools})
        return wire.count_tokens_request(body)

    def _count(self, data: Any) -> int:
        if not isinstance(data, dict) or not isinstance(data.get("input_tokens"), int):
            raise ProviderUnavailable(
                f"count_tokens answered without input_tokens: {str(data)[:200]!r}", provider=self._display
            )
        return int(data["input_tokens"])

    def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> int:
        """The input tokens ``messages`` (with ``system`` and ``tools``) would use, counted by Anthropic
        (free; ``POST /v1/messages/count_tokens``). Options: tool_choice, response_format, thinking."""
        body = self._count_body(model, messages, system, tools, options)
        response = self.config.http.request("POST", self.count_tokens_path, json=body, timeout=timeout)
        return self._count(response.json())

    async def acount_tokens(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> int:
        body = self._count_body(model, messages, system, tools, options)
        response = await self.config.http.arequest("POST", self.count_tokens_path, json=body, timeout=timeout)
        return self._count(response.json())

    # ---- streams ------------------------------------------------------------------------------------------
    def _feed(self, state: wire.StreamState, data: str) -> TextDelta | None:
        try:
            event = json.loads(data)
        except ValueError:
            raise ProviderUnavailable(
                f"the stream sent an event that is not JSON: {data[:200]!r}", provider=self._display
            ) from None
        if not isinstance(event, dict):
            return None
        try:
            return state.feed(event)
        except wire.StreamError as exc:
            raise self._stream_error(exc) from None

    def _stream_error(self, exc: wire.StreamError) -> ProviderError:
        """An ``error`` event as the polyface error its type names (``overloaded_error``: unavailable)."""
        cls = error_class(500, exc.kind)
        return cls(
            f"the stream reported an error: {redact(exc.message)}",
            provider=self._display,
            code=exc.kind,
            hint=f"{INCOMPLETE_HINT} {cls.default_hint}",
        )

    def _check_complete(self, state: wire.StreamState) -> None:
        if not state.stopped:
            raise ProviderUnavailable(
                "the stream ended before the reply was complete", provider=self._display, hint=INCOMPLETE_HINT
            )

    def _final(
        self, call: Any, state: wire.StreamState, body: Mapping[str, Any], pricing: Pricing | None
    ) -> TextDelta:
        final = state.final(wire.message_cost(pricing, state.usage))
        reply = TextResponse(
            id=state.id,
            provider=self._provider,
            model=state.model,
            text="",
            finish_reason=final.finish_reason,
            usage=state.usage,
            cost=final.cost,
        )
        self._finish(call, reply, body)
        return final

    def _retry_delay(self, exc: ProviderError, attempt: int, delivered: bool) -> float | None:
        """Anthropic often answers 200 and then an ``error`` event (``overloaded_error``): before any piece
        was delivered, that is retried like a failed response; after, it is raised."""
        if delivered or not isinstance(exc, ServerError | RateLimited):
            return None
        return self.config.retry.delay(attempt, exc.retry_after)

    def _events(
        self, body: dict[str, Any], options: Mapping[str, Any], timeout: float | None
    ) -> Iterator[TextDelta]:
        pricing = self._prepare(body, options)
        model = body["model"]
        for attempt in itertools.count():
            state = wire.StreamState(model)
            delivered = False
            try:
                with (
                    self.config.telemetry.call("chat", model, current=False, **self._span_args(body)) as call,
                    self.config.http.stream(
                        "POST", self.messages_path, json=body, timeout=timeout, tokens=self._tokens(body)
                    ) as resp,
                ):
                    for event in iter_events(resp.iter_lines()):
                        delta = self._feed(state, event.data)
                        if delta is not None:
                            delivered = True
                            yield delta
                    self._check_complete(state)
                    final = self._final(call, state, body, pricing)
            except ProviderError as exc:
                delay = self._retry_delay(exc, attempt, delivered)
                if delay is None:
                    raise
                time.sleep(delay)
                continue
            yield final
            return

    async def _aevents(
        self, body: dict[str, Any], options: Mapping[str, Any], timeout: float | None
    ) -> AsyncIterator[TextDelta]:
        pricing = await self._aprepare(body, options)
        model = body["model"]
        for attempt in itertools.count():
            state = wire.StreamState(model)
            delivered = False
            try:
                with self.config.telemetry.call(
                    "chat", model, current=False, **self._span_args(body)
                ) as call:
                    async with self.config.http.astream(
                        "POST", self.messages_path, json=body, timeout=timeout, tokens=self._tokens(body)
                    ) as resp:
                        async for event in aiter_events(resp.aiter_lines()):
                            delta = self._feed(state, event.data)
                            if delta is not None:
                                delivered = True
                                yield delta
                        self._check_complete(state)
                        final = self._final(call, state, body, pricing)
            except ProviderError as exc:
                delay = self._retry_delay(exc, attempt, delivered)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                continue
            yield final
            return

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextStream:
        """Iterate text (and tool-call) deltas as they arrive; the last delta carries finish_reason, usage and
        cost. ``ping`` events are skipped; an ``error`` event raises the polyface error it names (an
        ``overloaded_error`` is :class:`ProviderUnavailable`). Stop early with ``break`` or ``with``."""
        body = self._build(model, messages, system, options)
        body["stream"] = True
        return TextStream(self._events(body, options, timeout))

    def astream(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncTextStream:
        body = self._build(model, messages, system, options)
        body["stream"] = True
        return AsyncTextStream(self._aevents(body, options, timeout))
