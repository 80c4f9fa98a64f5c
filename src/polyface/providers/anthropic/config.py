"""Anthropic: where it lives, how it authenticates, how its catalog and errors read.

The base URL is the host root (``https://api.anthropic.com``; every path starts with ``/v1``; a base URL
given with a trailing ``/v1`` is accepted too). The key goes in ``x-api-key`` and every request carries
``anthropic-version: 2023-06-01``. ``GET /v1/models`` is paginated (``has_more``/``last_id``): the catalog
reads every page. Anthropic's model list carries no prices: they come from the shipped table
``polyface/providers/prices/anthropic.json`` (override with ``pricing={...}``).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Final

from polyface.providers._base.config import ProviderConfig, ProviderInfo
from polyface.wire import anthropic_messages as wire

if TYPE_CHECKING:
    from polyface.types.models import ModelInfo

ANTHROPIC_VERSION: Final = "2023-06-01"
MODELS_PAGE_SIZE: Final = 100
MAX_PAGES: Final = 1000

ANTHROPIC = ProviderInfo(
    name="anthropic",
    display_name="Anthropic",
    default_base_url="https://api.anthropic.com",
    api_key_env="ANTHROPIC_API_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    auth_header="x-api-key",
    auth_scheme="",
    request_id_headers=("request-id", "x-request-id"),
    models_path="/v1/models",
)


class AnthropicConfig(ProviderConfig):
    info = ANTHROPIC

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self.base_url = self.base_url.removesuffix("/v1")
        lowered = {name.lower() for name in self.extra_headers}
        if "anthropic-version" not in lowered:
            self.extra_headers["anthropic-version"] = ANTHROPIC_VERSION
        self._infos: dict[str, ModelInfo] = {}
        self._infos_lock = threading.Lock()

    # ---- catalog ------------------------------------------------------------------------------------------
    def parse_models(self, data: Any) -> list[ModelInfo]:
        """One page of ``GET /v1/models`` (``{"data": [...], "has_more", "first_id", "last_id"}``)."""
        items = data.get("data", []) if isinstance(data, dict) else data
        models = [
            wire.parse_model(item, provider=self.info.name)
            for item in items or ()
            if isinstance(item, dict) and "id" in item
        ]
        with self._infos_lock:
            self._infos.update({m.id: m for m in models})
        return models

    @staticmethod
    def _next_page(data: Any, seen: set[str]) -> str | None:
        """The ``after_id`` of the next page, or None when this was the last one."""
        if not isinstance(data, dict) or not data.get("has_more"):
            return None
        last = data.get("last_id")
        if not isinstance(last, str) or not last or last in seen:
            return None
        seen.add(last)
        return last

    def fetch_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"limit": MODELS_PAGE_SIZE}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            data = self.http.request("GET", self.info.models_path, params=params).json()
            models += self.parse_models(data)
            after = self._next_page(data, seen)
            if after is None:
                break
            params = {"limit": MODELS_PAGE_SIZE, "after_id": after}
        return models

    async def afetch_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"limit": MODELS_PAGE_SIZE}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await self.http.arequest("GET", self.info.models_path, params=params)
            data = response.json()
            models += self.parse_models(data)
            after = self._next_page(data, seen)
            if after is None:
                break
            params = {"limit": MODELS_PAGE_SIZE, "after_id": after}
        return models

    def known_model(self, model: str) -> ModelInfo | None:
        """What the catalog (if fetched) says of ``model``: its own entry, else the newest dated version of
        an alias (``claude-sonnet-4-5`` finds ``claude-sonnet-4-5-20250929``)."""
        with self._infos_lock:
            if model in self._infos:
                return self._infos[model]
            dated = sorted(name for name in self._infos if re.fullmatch(re.escape(model) + r"-\d{8}", name))
            return self._infos[dated[-1]] if dated else None

    # ---- errors ------------------------------------------------------------------------------------------
    def parse_error(self, body: Any, text: str) -> tuple[str, str | None]:
        """(message, type) from ``{"type": "error", "error": {"type", "message"}}``."""
        parsed = wire.parse_error_body(body)
        if parsed is not None:
            return parsed
        return super().parse_error(body, text)
