"""Provider names -> their adapter classes, as import strings (nothing is imported until asked)."""

from __future__ import annotations

from typing import Any

from polyface.errors import ConfigurationError

PROVIDERS: dict[str, str] = {
    "together": "polyface.providers.together:TogetherAdapter",
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


def provider(name: str, **options: Any) -> Any:
    """An adapter by name: ``provider("together", api_key=...)``."""
    return adapter_class(name)(**options)
