"""polyface: one typed interface over AI providers for every modality, and persona avatars.

Everything here is re-exported lazily: ``import polyface`` imports nothing heavy, and
``polyface.TogetherAdapter`` loads Together's module on first access.
"""

from __future__ import annotations

from polyface._version import __version__

# Not ``from typing import TYPE_CHECKING``: importing typing alone costs ~10 ms.
TYPE_CHECKING = False

_EXPORTS: dict[str, str] = {
    # providers
    "TogetherAdapter": "polyface.providers.together",
    "OpenAIAdapter": "polyface.providers.openai",
    "AnthropicAdapter": "polyface.providers.anthropic",
    "LocalAdapter": "polyface.providers.local",
    "provider": "polyface.providers.registry",
    "RateLimit": "polyface.providers._base.ratelimit",
    # personas
    "Studio": "polyface.persona.studio",
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
    "JobFailed": "polyface.errors",
    "JobNotFinished": "polyface.errors",
    "JobTimeout": "polyface.errors",
    "DatasetError": "polyface.errors",
    "ConsentRequired": "polyface.errors",
    "BudgetExceeded": "polyface.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from typing import Any

    from polyface.errors import (
        AuthenticationError as AuthenticationError,
    )
    from polyface.errors import (
        BudgetExceeded as BudgetExceeded,
    )
    from polyface.errors import (
        CapabilityNotSupported as CapabilityNotSupported,
    )
    from polyface.errors import (
        ConfigurationError as ConfigurationError,
    )
    from polyface.errors import (
        Conflict as Conflict,
    )
    from polyface.errors import (
        ConsentRequired as ConsentRequired,
    )
    from polyface.errors import (
        DatasetError as DatasetError,
    )
    from polyface.errors import (
        InvalidArgument as InvalidArgument,
    )
    from polyface.errors import (
        InvalidRequest as InvalidRequest,
    )
    from polyface.errors import (
        JobFailed as JobFailed,
    )
    from polyface.errors import (
        JobNotFinished as JobNotFinished,
    )
    from polyface.errors import (
        JobTimeout as JobTimeout,
    )
    from polyface.errors import (
        MissingCredentials as MissingCredentials,
    )
    from polyface.errors import (
        NotFound as NotFound,
    )
    from polyface.errors import (
        PermissionDenied as PermissionDenied,
    )
    from polyface.errors import (
        PolyfaceError as PolyfaceError,
    )
    from polyface.errors import (
        ProviderError as ProviderError,
    )
    from polyface.errors import (
        ProviderTimeout as ProviderTimeout,
    )
    from polyface.errors import (
        ProviderUnavailable as ProviderUnavailable,
    )
    from polyface.errors import (
        RateLimited as RateLimited,
    )
    from polyface.errors import (
        ServerError as ServerError,
    )
    from polyface.persona.studio import (
        Studio as Studio,
    )
    from polyface.providers._base.ratelimit import (
        RateLimit as RateLimit,
    )
    from polyface.providers.anthropic import (
        AnthropicAdapter as AnthropicAdapter,
    )
    from polyface.providers.local import (
        LocalAdapter as LocalAdapter,
    )
    from polyface.providers.openai import (
        OpenAIAdapter as OpenAIAdapter,
    )
    from polyface.providers.registry import (
        provider as provider,
    )
    from polyface.providers.together import (
        TogetherAdapter as TogetherAdapter,
    )
    from polyface.types.models import (
        ModelInfo as ModelInfo,
    )
    from polyface.types.models import (
        Pricing as Pricing,
    )
    from polyface.types.text import (
        Message as Message,
    )
    from polyface.types.text import (
        TextDelta as TextDelta,
    )
    from polyface.types.text import (
        TextResponse as TextResponse,
    )
    from polyface.types.text import (
        ToolCall as ToolCall,
    )
    from polyface.types.usage import (
        Usage as Usage,
    )


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
