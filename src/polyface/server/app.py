"""``create_app``: one FastAPI app on one port: ``/api`` (REST), ``/v1`` (the OpenAI-compatible gateway),
``/`` (the studio page), ``/metrics`` and ``/healthz``.

Routers live in their own modules and are included here; the app holds the :class:`Studio` and the
settings in ``app.state``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from polyface.persona.studio import Studio
    from polyface.server.settings import ServerSettings


def create_app(studio: Studio | None = None, settings: ServerSettings | None = None) -> FastAPI:
    """The app. ``studio`` defaults to ``Studio()`` (the configured database and media store).

    On a host other machines can reach (not loopback) it raises :class:`ConfigurationError` unless
    keys are required and at least one gateway key exists: such a server never answers without a key."""
    from fastapi import FastAPI

    from polyface._version import __version__
    from polyface.persona.studio import Studio
    from polyface.server.settings import ServerSettings, is_loopback

    settings = settings or ServerSettings()
    studio = studio or Studio()
    if not is_loopback(settings.host):
        _refuse_an_open_gateway(studio, settings)
    app = FastAPI(title="polyface", version=__version__, docs_url="/docs", openapi_url="/openapi.json")
    app.state.studio = studio
    app.state.settings = settings
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from polyface.server.guard import LOOPBACK_NAMES, SameOriginMiddleware
    from polyface.server.limits import BodyLimitMiddleware

    app.add_middleware(BodyLimitMiddleware)  # before anything reads a body (authentication included)
    app.add_middleware(SameOriginMiddleware)
    if is_loopback(settings.host):
        allowed = [*LOOPBACK_NAMES, *([settings.host] if settings.host not in LOOPBACK_NAMES else [])]
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed)
    for include in _ROUTERS:
        include(app)
    return app


def _refuse_an_open_gateway(studio: Studio, settings: ServerSettings) -> None:
    """A server other machines can reach must not answer without a key: refuse to make one that would."""
    from polyface.errors import ConfigurationError
    from polyface.server.auth import has_active_key

    where = f"{settings.host}, reachable from other machines,"
    if not settings.require_keys:
        raise ConfigurationError(
            f"refusing to serve on {where} with require_keys=False: anyone could use the gateway and the "
            "providers' keys behind it. Keep require_keys=True (the default), or serve on 127.0.0.1."
        )
    if not has_active_key(studio):
        raise ConfigurationError(
            f"refusing to serve on {where} without a gateway key: run `polyface keys create NAME` first "
            "(or serve on 127.0.0.1)."
        )


def _include(module: str) -> Any:
    def include(app: FastAPI) -> None:
        import importlib

        importlib.import_module(f"polyface.server.{module}").register(app)

    return include


_ROUTERS = [
    _include("errors"),  # exception handlers: JSON errors with stable codes
    _include("api"),  # /api/...: personas, samples, consent, plans, runs, avatars, conversations
    _include("gateway"),  # /v1/...: models, chat/completions, audio/speech, embeddings (+ keys, limits)
    _include("ops"),  # /healthz, /metrics
    _include("page"),  # / and /studio: the avatar studio page
]
