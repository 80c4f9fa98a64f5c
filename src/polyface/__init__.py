"""polyface: one typed interface over AI providers for every modality, and persona avatars.

Everything here is re-exported lazily: ``import polyface`` imports nothing heavy, and
``polyface.TogetherAdapter`` loads Together's module on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface._version import __version__

_EXPORTS: dict[str, str] = {
    # providers
    "TogetherAdapter": "polyface.providers.together",
    "provider": "polyface.providers.registry",
    "RateLimit": "polyface.providers._base.ratelimit",
    # types
    "Message": "polyface.types.text",
    "TextResponse": "polyface.types.text",
    "TextDelta": "polyface.types.text",
    "ToolCall": "polyface.types.text",
    "Usage": "polyface.types.usage",
    "ModelInfo": "polyface.types.models",
    "Pricing": "polyface.types.models",
    # errors
    "PolyfaceError": "polyface.errors",
    "ConfigurationError": "polyface.errors",
    "MissingCredentials": "polyface.errors",
    "InvalidArgument": "polyface.errors",
    "ProviderError": "polyface.errors",
    "AuthenticationError": "polyface.errors",
    "PermissionDenied": "polyface.errors",
    "NotFound": "polyface.errors",
    "InvalidRequest": "polyface.errors",
    "Conflict": "polyface.errors",
    "RateLimited": "polyface.errors",
    "ServerError": "polyface.errors",
    "ProviderUnavailable": "polyface.errors",
    "ProviderTimeout": "polyface.errors",
    "CapabilityNotSupported": "polyface.errors",
    "DatasetError": "polyface.errors",
    "ConsentRequired": "polyface.errors",
    "BudgetExceeded": "polyface.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from polyface.errors import (
        AuthenticationError,
        BudgetExceeded,
        CapabilityNotSupported,
        ConfigurationError,
        Conflict,
        ConsentRequired,
        DatasetError,
        InvalidArgument,
        InvalidRequest,
        MissingCredentials,
        NotFound,
        PermissionDenied,
        PolyfaceError,
        ProviderError,
        ProviderTimeout,
        ProviderUnavailable,
        RateLimited,
        ServerError,
    )
    from polyface.providers._base.ratelimit import RateLimit
    from polyface.providers.registry import provider
    from polyface.providers.together import TogetherAdapter
    from polyface.types.models import ModelInfo, Pricing
    from polyface.types.text import Message, TextDelta, TextResponse, ToolCall
    from polyface.types.usage import Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polyface' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
