"""The model catalog and its pricing: fetched once per provider instance, cached with a TTL.

Every capability of a provider reads the same catalog. A failed fetch does not fail
the call that wanted a price: the cost is left unknown (None), a warning is logged,
and the fetch is tried again after ``retry_failed_after`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable

from polyface.errors import AuthenticationError, PolyfaceError
from polyface.providers._base.telemetry import get_logger
from polyface.types.models import ModelInfo, Pricing
from polyface.types.usage import Usage

log = get_logger(__name__)


def fine_tuned_base(model: str) -> str:
    """The model a fine-tuned one was trained from (``ft:gpt-4o-mini-2024-07-18:acme::x`` ->
    ``gpt-4o-mini-2024-07-18``); other names as they are."""
    if model.startswith("ft:") and model.count(":") >= 2:
        return model.split(":", 2)[1]
    return model


def price_for(table: dict[str, Pricing], model: str) -> Pricing | None:
    """A model's price in a shipped table: its own entry, else the longest entry it is a dated or
    fine-tuned variant of (``gpt-4o-2024-08-06`` and ``ft:gpt-4o-mini:acme::x`` find ``gpt-4o``...)."""
    if model in table:
        return table[model]
    base = fine_tuned_base(model)
    # a fine-tuned model has its own (higher) price when the table lists ``ft:<base>``
    candidates = ([f"ft:{base}"] if base != model else []) + [base]
    for name in candidates:
        if name in table:
            return table[name]
        prefixes = [entry for entry in table if name.startswith(entry + "-")]
        if prefixes:
            return table[max(prefixes, key=len)]
    return None


def load_price_table(vendor: str) -> dict[str, Pricing]:
    """The price table shipped as ``polyface/providers/prices/<vendor>.json`` (empty if none).

    The file says where its prices came from and when (``source``, ``as_of``); prices are USD, token
    prices per million tokens. Users override any of them with ``pricing={...}`` on the adapter.
    """
    from importlib.resources import files

    resource = files("polyface.providers.prices").joinpath(f"{vendor}.json")
    if not resource.is_file():
        return {}
    data = json.loads(resource.read_text(encoding="utf-8"))
    return {name: Pricing(**fields) for name, fields in data.get("models", {}).items()}


class CatalogUnavailable(PolyfaceError):
    """The catalog fetch failed a moment ago; it is tried again after ``retry_failed_after`` seconds."""


class Catalog:
    def __init__(
        self,
        *,
        provider: str,
        fetch: Callable[[], list[ModelInfo]],
        afetch: Callable[[], Awaitable[list[ModelInfo]]],
        ttl: float = 3600.0,
        overrides: dict[str, Pricing] | None = None,
        price_table: dict[str, Pricing] | None = None,
        retry_failed_after: float = 60.0,
    ) -> None:
        self.provider = provider
        self._fetch = fetch
        self._afetch = afetch
        self.ttl = ttl
        self.retry_failed_after = retry_failed_after
        self.overrides = dict(overrides or {})
        self.price_table = dict(price_table or {})
        """Prices shipped with polyface for vendors whose model list has none (used after the catalog's)."""
        self._models: dict[str, ModelInfo] | None = None
        self._fetched_at = -1e18
        self._failed_at = -1e18
        self._lock = threading.Lock()
        self._alocks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.fetch_count = 0

    # ---- state ---------------------------------------------------------------
    def _fresh(self) -> bool:
        return self._models is not None and time.monotonic() - self._fetched_at < self.ttl

    def _store(self, models: list[ModelInfo]) -> dict[str, ModelInfo]:
        self._models = {m.id: m for m in models}
        self._fetched_at = time.monotonic()
        self.fetch_count += 1
        return self._models

    def invalidate(self) -> None:
        self._models = None

    # ---- listing ---------------------------------------------------------------
    def models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """Every model, fetched now only when the cache is empty, stale or ``refresh`` is set."""
        if refresh or not self._fresh():
            started = time.monotonic()
            with self._lock:
                self._raise_if_failed_since(started)
                if refresh or not self._fresh():
                    self._store(self._fetch())
        assert self._models is not None
        return list(self._models.values())

    async def amodels(self, *, refresh: bool = False) -> list[ModelInfo]:
        if refresh or not self._fresh():
            # one fetch however many coroutines ask at once
            loop = asyncio.get_running_loop()
            lock = self._alocks.get(loop)
            if lock is None:
                self._alocks = {loop: (lock := asyncio.Lock())}
            fetched_before = self.fetch_count
            started = time.monotonic()
            async with lock:
                self._raise_if_failed_since(started)
                if self.fetch_count == fetched_before and (refresh or not self._fresh()):
                    self._store(await self._afetch())
        assert self._models is not None
        return list(self._models.values())

    def _raise_if_failed_since(self, started: float) -> None:
        """While one caller fetched, others waited: if that fetch failed, do not hammer the vendor."""
        if self._failed_at >= started:
            raise CatalogUnavailable(f"the {self.provider} model catalog could not be fetched just now")

    # ---- pricing -------------------------------------------------------------
    def _lookup(self, model: str) -> Pricing | None:
        if model in self.overrides:
            return self.overrides[model]
        info = self._models.get(model) if self._models is not None else None
        if info is not None and info.pricing is not None:
            return info.pricing
        return price_for(self.price_table, model)

    def _may_fetch(self) -> bool:
        return not self._fresh() and time.monotonic() - self._failed_at >= self.retry_failed_after

    def _failed(self, exc: PolyfaceError) -> None:
        now = time.monotonic()
        quiet = isinstance(exc, CatalogUnavailable) or now - self._failed_at < self.retry_failed_after
        self._failed_at = now
        if isinstance(exc, AuthenticationError):
            raise exc
        if quiet:
            return
        log.warning(
            "%s: could not fetch the model catalog, costs are unknown for now: %s", self.provider, exc
        )

    def pricing(self, model: str) -> Pricing | None:
        if model not in self.overrides and self._may_fetch():
            try:
                self.models()
            except PolyfaceError as exc:
                self._failed(exc)
        return self._lookup(model)

    async def apricing(self, model: str) -> Pricing | None:
        if model not in self.overrides and self._may_fetch():
            try:
                await self.amodels()
            except PolyfaceError as exc:
                self._failed(exc)
        return self._lookup(model)

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for ``usage`` of ``model``; None when the catalog has no price for it."""
        price = self.pricing(model)
        return price.cost(usage) if price is not None else None

    async def acost(self, model: str, usage: Usage) -> float | None:
        price = await self.apricing(model)
        return price.cost(usage) if price is not None else None


__all__ = ["Catalog"]
