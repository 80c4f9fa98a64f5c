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
    """The app. ``studio`` defaults to ``Studio()`` (the configured database and media store)."""
    from fastapi import FastAPI

    from polyface._version import __version__
    from polyface.persona.studio import Studio
    from polyface.server.settings import ServerSettings

    app = FastAPI(title="polyface", version=__version__, docs_url="/docs", openapi_url="/openapi.json")
    app.state.studio = studio or Studio()
    app.state.settings = settings or ServerSettings()
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from polyface.server.guard import LOOPBACK_NAMES, SameOriginMiddleware

    app.add_middleware(SameOriginMiddleware)
    if app.state.settings.host in ("127.0.0.1", "::1", "localhost"):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES)
    for include in _ROUTERS:
        include(app)
    return app


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
