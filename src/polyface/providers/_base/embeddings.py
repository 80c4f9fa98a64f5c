"""Embeddings over the OpenAI-style wire format (``POST /embeddings``), on the shared engine.

Together, OpenAI and every OpenAI-compatible server take ``{"model", "input", ...}`` and answer a list of
vectors; each provider subclasses :class:`OpenAIStyleEmbeddings` and names only its own options
(``extra_options``: OpenAI's ``dimensions``, ``encoding_format``, ``user``...).

``embed`` sends all inputs in one request unless ``batch_size=`` asks for smaller ones; batches are merged
back in input order (``aembed`` runs up to :data:`MAX_CONCURRENT_BATCHES` of them at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from polyface.errors import CapabilityNotSupported, InvalidArgument, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.types.embeddings import EmbeddingsResponse, RerankResponse
from polyface.wire import openai_embeddings as wire

if TYPE_CHECKING:
    import httpx

FORMAT_HINT = "The answer was not in the documented shape; try again, or report it if it persists."

MAX_CONCURRENT_BATCHES = 8
"""Batches of one ``aembed`` call in flight at once."""


def check_options(
    options: Mapping[str, Any], *, provider: str, what: str, allowed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The fields to send besides ``model`` and ``input``: the ``allowed`` options that are not None, then
    ``extra_body`` (sent as is). Any other keyword fails before anything is sent."""
    unknown = sorted(name for name in options if name != "extra_body" and name not in allowed)
    if unknown:
        known = f" (it takes {', '.join(sorted(allowed))})" if allowed else ""
        raise InvalidArgument(
            f"{provider} {what} does not take {', '.join(repr(n) for n in unknown)}{known}; "
            "pass vendor-specific fields with extra_body={...}."
        )
    extra = options.get("extra_body") or {}
    if not isinstance(extra, Mapping):
        raise InvalidArgument("extra_body must be a dict of fields to send as they are.")
    fields = {name: value for name, value in options.items() if name in allowed and value is not None}
    fields.update(extra)
    return fields


class OpenAIStyleEmbeddings:
    """``adapter.embeddings`` for a provider speaking OpenAI-style ``POST /embeddings``."""

    embeddings_path: ClassVar[str] = "/embeddings"
    extra_options: ClassVar[frozenset[str]] = frozenset()
    """Keyword options sent as request fields of the same name (None means: not sent)."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._display = config.info.display_name

    # ---- helpers -------------------------------------------------------------------------------------
    def _format_error(self, exc: wire.EmbeddingsFormatError) -> ServerError:
        return ServerError(f"the answer could not be read: {exc}", provider=self._display, hint=FORMAT_HINT)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._format_error(wire.EmbeddingsFormatError("the body is not JSON")) from None

    def _tokens(self, inputs: Sequence[str]) -> int:
        return wire.estimate_tokens(inputs) if self.config.limiter.enabled else 0

    @staticmethod
    def _finish(call: Any, reply: EmbeddingsResponse | RerankResponse) -> None:
        call.finish(response_model=reply.model, input_tokens=reply.usage.input_tokens, cost=reply.cost)

    # ---- requests and answers (pure) ---------------------------------------------------------------------
    def check_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The provider's own checks of its option values (a subclass hook); returns the fields to send."""
        return fields

    def _plan(
        self, model: str, inputs: str | Sequence[str], batch_size: int | None, options: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        fields = check_options(options, provider=self._display, what="embeddings", allowed=self.extra_options)
        fields = self.check_fields(fields)
        texts = wire.normalize_inputs(inputs, provider=self._display)
        return [wire.embeddings_body(model, batch, fields) for batch in wire.batches(texts, batch_size)]

    def _parse(self, data: Any, body: Mapping[str, Any]) -> EmbeddingsResponse:
        try:
            return wire.parse_embeddings_response(
                data, provider=self._provider, model=body["model"], expected=len(body["input"])
            )
        except wire.EmbeddingsFormatError as exc:
            raise self._format_error(exc) from None

    # ---- embed -----------------------------------------------------------------------------------------
    def embed(
        self,
        *,
        model: str,
        inputs: str | Sequence[str],
        batch_size: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> EmbeddingsResponse:
        """One vector per input, in input order, with usage (tokens) and cost.

        ``inputs``: a string or a list of strings (sent in one request; ``batch_size=`` splits them into
        several, merged in order). ``extra_body={...}`` sends further fields as they are.
        """
        bodies = self._plan(model, inputs, batch_size, options)
        with self.config.telemetry.call("embeddings", model) as call:
            parts = []
            for body in bodies:
                response = self.config.http.request(
                    "POST",
                    self.embeddings_path,
                    json=body,
                    timeout=timeout,
                    tokens=self._tokens(body["input"]),
                )
                parts.append(self._parse(self._json(response), body))
            reply = wire.merge(parts)
            if wire.usage_reported(reply.raw):
                reply.cost = self.config.catalog.cost(model, reply.usage)
            self._finish(call, reply)
        return reply

    async def aembed(
        self,
        *,
        model: str,
        inputs: str | Sequence[str],
        batch_size: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> EmbeddingsResponse:
        """The async twin of :meth:`embed`; up to ``MAX_CONCURRENT_BATCHES`` batches are in flight at once
        (the rate limit still applies), and the first failure cancels the rest."""
        bodies = self._plan(model, inputs, batch_size, options)
        gate = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)

        async def one(body: dict[str, Any]) -> EmbeddingsResponse:
            async with gate:
                response = await self.config.http.arequest(
                    "POST",
                    self.embeddings_path,
                    json=body,
                    timeout=timeout,
                    tokens=self._tokens(body["input"]),
                )
            return self._parse(self._json(response), body)

        with self.config.telemetry.call("embeddings", model) as call:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(one(body)) for body in bodies]
            except* Exception as failures:
                raise failures.exceptions[0] from None
            parts = [task.result() for task in tasks]
            reply = wire.merge(parts)
            if wire.usage_reported(reply.raw):
                reply.cost = await self.config.catalog.acost(model, reply.usage)
            self._finish(call, reply)
        return reply

    # ---- rerank: not offered unless a provider says so (Together does) ---------------------------------
    def _no_rerank(self) -> NoReturn:
        raise CapabilityNotSupported(
            self._display,
            "embeddings.rerank",
            offered_by=("together",),
            reason=f"{self._display} has no rerank API",
        )

    def rerank(
        self, *, model: str, query: str, documents: Sequence[Any], top_n: int | None = None, **options: Any
    ) -> RerankResponse:
        """Not offered here: raises :class:`~polyface.errors.CapabilityNotSupported` naming who does."""
        self._no_rerank()

    async def arerank(
        self, *, model: str, query: str, documents: Sequence[Any], top_n: int | None = None, **options: Any
    ) -> RerankResponse:
        self._no_rerank()


__all__ = ["FORMAT_HINT", "MAX_CONCURRENT_BATCHES", "OpenAIStyleEmbeddings", "check_options"]
