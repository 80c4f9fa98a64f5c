"""Provider names -> their adapter classes, as import strings (nothing is imported until asked)."""

from __future__ import annotations

from typing import Any

from polyface.errors import ConfigurationError

PROVIDERS: dict[str, str] = {
    "together": "polyface.providers.together:TogetherAdapter",
    "openai": "polyface.providers.openai:OpenAIAdapter",
    "anthropic": "polyface.providers.anthropic:AnthropicAdapter",
    "local": "polyface.providers.local:LocalAdapter",
}


def adapter_class(name: str) -> Any:
    import importlib

    try:
        target = PROVIDERS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}."
        ) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def provider(name: Any, **options: Any) -> Any:
    """An adapter by name: ``provider("together", api_key=...)``, an OpenAI-compatible server by its row
    name (``provider("ollama", base_url=...)``), or a ``CompatibleServer`` row of your own."""
    if isinstance(name, str) and name in PROVIDERS:
        return adapter_class(name)(**options)
    from polyface.providers import openai_compatible as compatible

    row = name if isinstance(name, compatible.CompatibleServer) else None
    if name == compatible.GENERIC.name:
        if not options.get("base_url"):
            raise ConfigurationError(
                "provider('openai_compatible') needs base_url=... (the server's URL, /v1 included)."
            )
        row = compatible.GENERIC
    if row is None:
        if name not in compatible.SERVERS:
            known = sorted(PROVIDERS) + sorted(compatible.SERVERS)
            raise ConfigurationError(f"unknown provider {name!r}; known providers: {', '.join(known)}.")
        row = compatible.server(name)
    return compatible.compatible_adapter(row)(**options)
