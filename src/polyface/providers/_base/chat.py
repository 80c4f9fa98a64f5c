"""Text over the OpenAI-style chat wire format, on the shared engine.

Together, OpenAI and every OpenAI-compatible server speak this format; each provider
subclasses :class:`ChatText` and adds only its paths and extra options.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from polyface.errors import ProviderUnavailable, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.streams import AsyncTextStream, TextStream
from polyface.types.text import TextDelta, TextResponse
from polyface.types.usage import Usage
from polyface.wire import openai_chat as wire
from polyface.wire.sse import DataFeed


class ChatText:
    """``.text`` for a provider speaking OpenAI-style chat/completions."""

    chat_path: ClassVar[str] = "/chat/completions"
    completions_path: ClassVar[str] = "/completions"
    extra_options: ClassVar[frozenset[str]] = frozenset()
    stream_options: ClassVar[dict[str, Any] | None] = None
    """Sent as ``stream_options`` on streams (OpenAI needs ``include_usage``)."""
    tool_call_index: ClassVar[bool] = False
    """Replayed assistant tool calls carry ``index`` (Together requires it)."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name

    # ---- requests --------------------------------------------------------------
    def _chat_body(
        self,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body = wire.build_options(
            options, provider=self.config.info.display_name, extra_allowed=self.extra_options
        )
        body["model"] = model
        body["messages"] = wire.message_dicts(messages, system)
        if self.tool_call_index:
            body["messages"] = wire.with_tool_call_indexes(body["messages"])
        return body

    def _completion_body(self, model: str, prompt: str, options: Mapping[str, Any]) -> dict[str, Any]:
        body = wire.build_options(
            options, provider=self.config.info.display_name, extra_allowed=self.extra_options
        )
        body["model"] = model
        body["prompt"] = prompt
        return body

    def _tokens(self, body: Mapping[str, Any]) -> int:
        return wire.estimate_tokens(body) if self.config.limiter.enabled else 0

    def _stream_body(self, body: dict[str, Any]) -> dict[str, Any]:
        body["stream"] = True
        if self.stream_options:
            body["stream_options"] = self.stream_options
        return body

    @staticmethod
    def _span_args(body: Mapping[str, Any]) -> dict[str, Any]:
        return {"max_tokens": body.get("max_tokens"), "temperature": body.get("temperature")}

    @staticmethod
    def _unreserved(reply: TextResponse, body: Mapping[str, Any]) -> int:
        """Output tokens the limiter's estimate did not reserve up front."""
        reserved = int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
        return max(0, reply.usage.output_tokens - reserved)

    def _finish(self, call: Any, reply: TextResponse, body: Mapping[str, Any]) -> None:
        call.finish(
            response_model=reply.model,
            response_id=reply.id,
            finish_reason=reply.finish_reason,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cost=reply.cost,
        )

    # ---- generate --------------------------------------------------------------
    def _post(self, op: str, path: str, body: dict[str, Any], timeout: float | None) -> TextResponse:
        model = body["model"]
        with self.config.telemetry.call(op, model, **self._span_args(body)) as call:
            response = self.config.http.request(
                "POST", path, json=body, timeout=timeout, tokens=self._tokens(body)
            )
            reply = wire.parse_chat_response(response.json(), provider=self._provider, model=model)
            reply.cost = self.config.catalog.cost(model, reply.usage)
            if self.config.limiter.enabled:
                self.config.limiter.charge(self._unreserved(reply, body))
            self._finish(call, reply, body)
        return reply

    async def _apost(self, op: str, path: str, body: dict[str, Any], timeout: float | None) -> TextResponse:
        model = body["model"]
        with self.config.telemetry.call(op, model, **self._span_args(body)) as call:
            response = await self.config.http.arequest(
                "POST", path, json=body, timeout=timeout, tokens=self._tokens(body)
            )
            reply = wire.parse_chat_response(response.json(), provider=self._provider, model=model)
            reply.cost = await self.config.catalog.acost(model, reply.usage)
            if self.config.limiter.enabled:
                await self.config.limiter.acharge(self._unreserved(reply, body))
            self._finish(call, reply, body)
        return reply

    def generate(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextResponse:
        """One reply to ``messages``. Options: max_tokens, temperature, top_p, stop, seed, n,
        tools, tool_choice, response_format (a dict or a pydantic model class), ... and the
        provider's own (``extra_body={...}`` for anything else)."""
        return self._post("chat", self.chat_path, self._chat_body(model, messages, system, options), timeout)

    async def agenerate(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextResponse:
        body = self._chat_body(model, messages, system, options)
        return await self._apost("chat", self.chat_path, body, timeout)

    def complete(
        self, *, model: str, prompt: str, timeout: float | None = None, **options: Any
    ) -> TextResponse:
        """Continue a raw prompt (no chat template)."""
        body = self._completion_body(model, prompt, options)
        return self._post("text_completion", self.completions_path, body, timeout)

    async def acomplete(
        self, *, model: str, prompt: str, timeout: float | None = None, **options: Any
    ) -> TextResponse:
        body = self._completion_body(model, prompt, options)
        return await self._apost("text_completion", self.completions_path, body, timeout)

    # ---- streams ---------------------------------------------------------------
    def _events(self, op: str, path: str, body: dict[str, Any], timeout: float | None) -> Iterator[TextDelta]:
        model = body["model"]
        assembler = wire.StreamAssembler(model)
        with (
            self.config.telemetry.call(op, model, current=False, **self._span_args(body)) as call,
            self.config.http.stream(
                "POST", path, json=body, timeout=timeout, tokens=self._tokens(body)
            ) as resp,
        ):
            feed = DataFeed(resp.iter_lines())
            for data in feed:
                delta = self._feed(assembler, data)
                if delta is not None:
                    yield delta
            self._check_complete(feed.done, assembler)
            final = assembler.final(None)
            if final.usage is not None:
                final.cost = self.config.catalog.cost(assembler.model, final.usage)
            reply = self._as_response(assembler, final)
            if self.config.limiter.enabled:
                self.config.limiter.charge(self._unreserved(reply, body))
            self._finish(call, reply, body)
        yield final

    async def _aevents(
        self, op: str, path: str, body: dict[str, Any], timeout: float | None
    ) -> AsyncIterator[TextDelta]:
        model = body["model"]
        assembler = wire.StreamAssembler(model)
        with self.config.telemetry.call(op, model, current=False, **self._span_args(body)) as call:
            async with self.config.http.astream(
                "POST", path, json=body, timeout=timeout, tokens=self._tokens(body)
            ) as resp:
                feed = DataFeed(resp.aiter_lines())
                async for data in feed:
                    delta = self._feed(assembler, data)
                    if delta is not None:
                        yield delta
                self._check_complete(feed.done, assembler)
                final = assembler.final(None)
                if final.usage is not None:
                    final.cost = await self.config.catalog.acost(assembler.model, final.usage)
                reply = self._as_response(assembler, final)
                if self.config.limiter.enabled:
                    await self.config.limiter.acharge(self._unreserved(reply, body))
                self._finish(call, reply, body)
        yield final

    def _feed(self, assembler: wire.StreamAssembler, data: str) -> TextDelta | None:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ProviderUnavailable(
                f"the stream sent a chunk that is not JSON: {data[:200]!r}",
                provider=self.config.info.display_name,
            ) from None
        try:
            return assembler.feed(chunk)
        except wire.StreamError as exc:
            raise ServerError(
                f"the stream reported an error: {exc}", provider=self.config.info.display_name
            ) from None

    def _check_complete(self, done: bool, assembler: wire.StreamAssembler) -> None:
        if not done and assembler.finish_reason is None:
            raise ProviderUnavailable(
                "the stream ended before the reply was complete",
                provider=self.config.info.display_name,
                hint="The partial text was delivered; ask again for the full reply.",
            )

    def _as_response(self, assembler: wire.StreamAssembler, final: TextDelta) -> TextResponse:
        return TextResponse(
            id=assembler.id,
            provider=self._provider,
            model=assembler.model,
            text="",
            finish_reason=final.finish_reason,
            usage=final.usage or Usage(),
            cost=final.cost,
        )

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TextStream:
        """Iterate text deltas as they arrive; the last delta carries finish_reason, usage and cost.

        Stop early with ``break`` (or use ``with``): the connection is closed at once.
        """
        body = self._stream_body(self._chat_body(model, messages, system, options))
        return TextStream(self._events("chat", self.chat_path, body, timeout))

    def astream(
        self,
        *,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncTextStream:
        body = self._stream_body(self._chat_body(model, messages, system, options))
        return AsyncTextStream(self._aevents("chat", self.chat_path, body, timeout))

    def stream_complete(
        self, *, model: str, prompt: str, timeout: float | None = None, **options: Any
    ) -> TextStream:
        body = self._stream_body(self._completion_body(model, prompt, options))
        return TextStream(self._events("text_completion", self.completions_path, body, timeout))

    def astream_complete(
        self, *, model: str, prompt: str, timeout: float | None = None, **options: Any
    ) -> AsyncTextStream:
        body = self._stream_body(self._completion_body(model, prompt, options))
        return AsyncTextStream(self._aevents("text_completion", self.completions_path, body, timeout))
