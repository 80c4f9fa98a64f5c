"""The REST API under ``/api``: personas, samples, consent, plans, training runs (with a live feed),
avatar versions, conversations and their media. One module per resource; errors are JSON
(:mod:`polyface.server.errors`)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from polyface.server.api import avatars, consent, conversations, media, personas, plans, runs, samples


async def api_access(request: Request) -> None:
    """On a server listening beyond this machine, the REST API takes the same bearer keys as the gateway
    (on loopback, the default, only this machine can reach it)."""
    from polyface.server.auth import GatewayAuthError, gateway_key
    from polyface.server.errors import ApiError
    from polyface.server.settings import is_loopback

    if not is_loopback(request.app.state.settings.host):
        try:
            await gateway_key(request)
        except GatewayAuthError as exc:
            code = "rate_limit_exceeded" if exc.status == 429 else "invalid_api_key"
            raise ApiError(exc.status, code, str(exc)) from None


MODULES = (personas, samples, consent, plans, runs, avatars, conversations, media)


def register(app: FastAPI) -> None:
    # Each resource's router is included on the app itself (not nested in one /api router), so that every
    # route's path template carries /api, as the metrics label it.
    for module in MODULES:
        app.include_router(module.router, prefix="/api", dependencies=[Depends(api_access)])
