"""Anthropic Message Batches: many Messages requests at half price, answered within 24 hours.

``adapter.batches.create(requests)`` returns a :class:`AnthropicBatch` job handle (``wait`` /
``async_wait``, ``refresh``, ``results``, ``cancel``); ``get(batch_id)`` re-attaches to one. Each request is
``{"custom_id": "q1", "model": ..., "messages": [...], **options}`` (translated as ``text.generate`` would)
or ``{"custom_id": "q1", "params": {<an Anthropic Messages body>}}`` sent as-is.

A batch whose every request errored, was canceled or expired ends as a failure (``wait`` raises
:class:`JobFailed` with the counts); otherwise the per-request outcomes are in ``results()``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from polyface.errors import InvalidArgument, ProviderUnavailable
from polyface.providers._base.jobs import Job
from polyface.providers.anthropic.config import AnthropicConfig
from polyface.wire import anthropic_messages as wire
from polyface.wire.anthropic_messages import BatchResult, MessageBatch

PATH = "/v1/messages/batches"
RESULTS_ACCEPT = {"Accept": "application/x-jsonl, application/json"}


def _batch_id(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not batch_id or "/" in batch_id:
        raise InvalidArgument(f"batch id must be an id like 'msgbatch_...' (got {batch_id!r}).")
    return batch_id


class AnthropicBatch(Job[MessageBatch]):
    """A handle on one Message Batch."""

    poll_interval = 10.0
    max_poll_interval = 60.0

    def __init__(self, batches: AnthropicBatches, batch_id: str, info: MessageBatch | None = None) -> None:
        super().__init__(batches.config.info.display_name, batch_id, info)
        self._batches = batches

    def _fetch(self) -> MessageBatch:
        return self._batches.retrieve(self.id)

    async def _afetch(self) -> MessageBatch:
        return await self._batches.aretrieve(self.id)

    def _status(self, info: MessageBatch) -> str:
        return info.processing_status

    def _done(self, info: MessageBatch) -> bool:
        return info.processing_status == "ended"

    def _succeeded(self, info: MessageBatch) -> bool:
        counts = info.request_counts
        return counts.succeeded > 0 or (counts.errored + counts.canceled + counts.expired) == 0

    def _fraction(self, info: MessageBatch) -> float | None:
        c = info.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        return (total - c.processing) / total if total else None

    def _failure_reason(self, info: MessageBatch) -> str | None:
        c = info.request_counts
        return f"no request succeeded ({c.errored} errored, {c.canceled} canceled, {c.expired} expired)"

    def results(self) -> builtins.list[BatchResult]:
        """Each request's outcome (once the batch ended), in the order Anthropic lists them."""
        return self._batches.results(self.id)

    async def aresults(self) -> builtins.list[BatchResult]:
        return await self._batches.aresults(self.id)

    def cancel(self) -> MessageBatch:
        """Ask Anthropic to stop the batch; returns its state (``canceling``, later ``ended``)."""
        info = self.info = self._batches.cancel(self.id).info
        assert info is not None
        return info

    async def acancel(self) -> MessageBatch:
        info = self.info = (await self._batches.acancel(self.id)).info
        assert info is not None
        return info


class AnthropicBatches:
    """``adapter.batches``: create, get, list, cancel, results and delete Message Batches."""

    path: ClassVar[str] = PATH

    def __init__(self, config: AnthropicConfig) -> None:
        self.config = config
        self._display = config.info.display_name

    # ---- pure parts ---------------------------------------------------------------------------------
    def _build_params(
        self, *, model: Any, messages: Any, system: Any, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return wire.build_request(
            model=model, messages=messages, system=system, options=options, provider=self._display
        )

    def _create_body(self, requests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"requests": wire.batch_requests(requests, self._build_params)}

    def _parse_results(self, text: str) -> builtins.list[BatchResult]:
        results = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                raise ProviderUnavailable(
                    f"batch results line {number} is not JSON: {line[:200]!r}", provider=self._display
                ) from None
            results.append(wire.parse_batch_result(data, provider=self.config.info.name))
        return results

    # ---- create / get ----------------------------------------------------------------------------------
    def create(self, requests: Sequence[Mapping[str, Any]]) -> AnthropicBatch:
        """Start a batch; returns its handle at once (``.wait()`` for it to end)."""
        body = self._create_body(requests)
        response = self.config.http.request("POST", self.path, json=body, idempotent=False)
        info = wire.parse_batch(response.json())
        return AnthropicBatch(self, info.id, info)

    async def acreate(self, requests: Sequence[Mapping[str, Any]]) -> AnthropicBatch:
        body = self._create_body(requests)
        response = await self.config.http.arequest("POST", self.path, json=body, idempotent=False)
        info = wire.parse_batch(response.json())
        return AnthropicBatch(self, info.id, info)

    def retrieve(self, batch_id: str) -> MessageBatch:
        """The batch's state now."""
        response = self.config.http.request("GET", f"{self.path}/{_batch_id(batch_id)}")
        return wire.parse_batch(response.json())

    async def aretrieve(self, batch_id: str) -> MessageBatch:
        response = await self.config.http.arequest("GET", f"{self.path}/{_batch_id(batch_id)}")
        return wire.parse_batch(response.json())

    def get(self, batch_id: str) -> AnthropicBatch:
        """Re-attach to a batch started earlier (its state is fetched now)."""
        return AnthropicBatch(self, batch_id, self.retrieve(batch_id))

    async def aget(self, batch_id: str) -> AnthropicBatch:
        return AnthropicBatch(self, batch_id, await self.aretrieve(batch_id))

    # ---- list ---------------------------------------------------------------------------------------------
    @staticmethod
    def _page(data: Any) -> tuple[builtins.list[MessageBatch], str | None]:
        items = [wire.parse_batch(item) for item in data.get("data", ()) if isinstance(item, dict)]
        more = data.get("last_id") if data.get("has_more") else None
        return items, more if isinstance(more, str) and more else None

    def list(self, *, limit: int | None = None) -> builtins.list[MessageBatch]:
        """Batches, newest first: every page, or the first ``limit``."""
        if limit is not None and limit < 1:
            raise InvalidArgument(f"limit must be 1 or more (got {limit}).")
        out: builtins.list[MessageBatch] = []
        params: dict[str, Any] = {"limit": min(limit or 100, 100)}
        while True:
            items, after = self._page(self.config.http.request("GET", self.path, params=params).json())
            out += items
            if after is None or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out
            params = {**params, "after_id": after}

    async def alist(self, *, limit: int | None = None) -> builtins.list[MessageBatch]:
        if limit is not None and limit < 1:
            raise InvalidArgument(f"limit must be 1 or more (got {limit}).")
        out: builtins.list[MessageBatch] = []
        params: dict[str, Any] = {"limit": min(limit or 100, 100)}
        while True:
            response = await self.config.http.arequest("GET", self.path, params=params)
            items, after = self._page(response.json())
            out += items
            if after is None or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out
            params = {**params, "after_id": after}

    # ---- cancel / delete ----------------------------------------------------------------------------------
    def cancel(self, batch_id: str) -> AnthropicBatch:
        """Ask Anthropic to stop the batch (it goes ``canceling``, then ``ended``)."""
        response = self.config.http.request("POST", f"{self.path}/{_batch_id(batch_id)}/cancel")
        return AnthropicBatch(self, batch_id, wire.parse_batch(response.json()))

    async def acancel(self, batch_id: str) -> AnthropicBatch:
        response = await self.config.http.arequest("POST", f"{self.path}/{_batch_id(batch_id)}/cancel")
        return AnthropicBatch(self, batch_id, wire.parse_batch(response.json()))

    def delete(self, batch_id: str) -> None:
        """Delete an ended batch (and its results)."""
        self.config.http.request("DELETE", f"{self.path}/{_batch_id(batch_id)}")

    async def adelete(self, batch_id: str) -> None:
        await self.config.http.arequest("DELETE", f"{self.path}/{_batch_id(batch_id)}")

    # ---- results ------------------------------------------------------------------------------------------
    def _priced(self, results: builtins.list[BatchResult]) -> builtins.list[BatchResult]:
        for result in results:
            if result.response is not None:
                pricing = self.config.catalog.pricing(result.response.model)
                result.response.cost = wire.message_cost(pricing, result.response.usage, batch=True)
        return results

    async def _apriced(self, results: builtins.list[BatchResult]) -> builtins.list[BatchResult]:
        for result in results:
            if result.response is not None:
                pricing = await self.config.catalog.apricing(result.response.model)
                result.response.cost = wire.message_cost(pricing, result.response.usage, batch=True)
        return results

    def results(self, batch_id: str) -> builtins.list[BatchResult]:
        """Each request's outcome once the batch ended (responses priced at the batch discount)."""
        path = f"{self.path}/{_batch_id(batch_id)}/results"
        response = self.config.http.request("GET", path, headers=RESULTS_ACCEPT)
        return self._priced(self._parse_results(response.text))

    async def aresults(self, batch_id: str) -> builtins.list[BatchResult]:
        path = f"{self.path}/{_batch_id(batch_id)}/results"
        response = await self.config.http.arequest("GET", path, headers=RESULTS_ACCEPT)
        return await self._apriced(self._parse_results(response.text))
