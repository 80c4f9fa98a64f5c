"""Any server that speaks OpenAI's chat/embeddings wire format (vLLM, Ollama, llama.cpp, LM Studio,
OpenRouter, ...), from one row of data each (``servers.py``).

``polyface.provider("ollama", base_url=...)`` builds the adapter for a known row;
``register(CompatibleServer(...))`` adds one of your own, used the same way.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from polyface.errors import ConfigurationError
from polyface.providers._base.adapter import Adapter, Capability
from polyface.providers._base.chat import ChatText
from polyface.providers._base.config import ProviderConfig, ProviderInfo
from polyface.providers._base.embeddings import OpenAIStyleEmbeddings
from polyface.providers.openai_compatible.servers import SERVERS, CompatibleServer, register
from polyface.types.models import ModelInfo

ONLY = "{name} speaks OpenAI's chat and embeddings formats only; polyface offers no {what} through it"


class CompatibleText(ChatText):
    """Plain OpenAI-style chat; usage is asked for on streams (``stream_options.include_usage``)."""

    stream_options = {"include_usage": True}


class CompatibleEmbeddings(OpenAIStyleEmbeddings):
    """OpenAI-style embeddings; OpenAI's optional fields pass through (servers ignore or use them)."""

    extra_options: ClassVar[frozenset[str]] = frozenset({"dimensions", "encoding_format", "user"})


class CompatibleConfig(ProviderConfig):
    server: ClassVar[CompatibleServer]

    def parse_models(self, data: Any) -> list[ModelInfo]:
        items = data.get("data", []) if isinstance(data, dict) else data
        return [
            ModelInfo(
                id=str(item["id"]),
                provider=self.info.name,
                modality="embeddings" if "embed" in str(item["id"]).lower() else "text",
                owned_by=item.get("owned_by"),
                raw=item,
            )
            for item in items or ()
            if isinstance(item, dict) and "id" in item
        ]


class OpenAICompatibleAdapter(Adapter):
    """An adapter for one :class:`CompatibleServer` row (build it with :func:`compatible_adapter`)."""

    config_class: ClassVar[type[ProviderConfig]] = CompatibleConfig
    server: ClassVar[CompatibleServer]


@functools.cache
def compatible_adapter(row: CompatibleServer) -> type[OpenAICompatibleAdapter]:
    """The adapter class for ``row``: its config (base URL, key variable) and the capabilities it offers."""
    env_prefix = row.name.upper().replace("-", "_")
    info = ProviderInfo(
        name=row.name,
        display_name=row.display_name,
        default_base_url=row.base_url,
        api_key_env=row.api_key_env,
        base_url_env=f"{env_prefix}_BASE_URL",
        api_key_optional=not row.key_required,
    )
    config = type(f"{env_prefix.title()}Config", (CompatibleConfig,), {"info": info, "server": row})

    def capability(name: str, target: str) -> Capability[Any]:
        if name in row.offers:
            return Capability(target)
        return Capability(None, reason=ONLY.format(name=row.display_name, what=name))

    namespace: dict[str, Any] = {
        "config_class": config,
        "server": row,
        "__doc__": f"{row.display_name} (OpenAI-compatible): {', '.join(sorted(row.offers))}.",
        "text": capability("text", "polyface.providers.openai_compatible:CompatibleText"),
        "embeddings": capability("embeddings", "polyface.providers.openai_compatible:CompatibleEmbeddings"),
    }
    for name, what in (("image", "images"), ("audio", "audio"), ("video", "video"), ("voice", "voices")):
        namespace[name] = Capability(
            None, reason=ONLY.format(name=row.display_name, what=what), offered_by=("together", "openai")
        )
    cls = type(f"{env_prefix.title()}Adapter", (OpenAICompatibleAdapter,), namespace)
    for name, value in namespace.items():
        if isinstance(value, Capability):
            value.__set_name__(cls, name)
    return cls


def server(name: str) -> CompatibleServer:
    try:
        return SERVERS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown OpenAI-compatible server {name!r}; known: {', '.join(sorted(SERVERS))}. Add one with "
            "polyface.providers.openai_compatible.register(CompatibleServer(name=..., display_name=..., "
            "base_url=...))."
        ) from None


GENERIC = CompatibleServer("openai_compatible", "OpenAI-compatible server", "http://127.0.0.1:8000/v1")
"""A row for the capability table: what any OpenAI-compatible server offers here."""

__all__ = [
    "GENERIC",
    "SERVERS",
    "CompatibleEmbeddings",
    "CompatibleServer",
    "OpenAICompatibleAdapter",
    "compatible_adapter",
    "register",
    "server",
]
