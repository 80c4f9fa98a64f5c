"""Gateway errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every ``/v1`` failure answers so, whatever raised it: the official clients read ``message`` and map the
status (401 ``AuthenticationError``, 404 ``NotFoundError``, 429 ``RateLimitError``...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from polyface import errors as pf
from polyface.persona.errors import NoAvatar, PersonaNotFound
from polyface.providers._base.secrets import redact
from polyface.server.auth import GatewayAuthError

log = logging.getLogger("polyface.server.gateway")


class OpenAIError(Exception):
    """A gateway request that failed: the status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def model_not_found(model: str, why: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model {model!r} does not exist or you do not have access to it: {why}",
        code="model_not_found",
        param="model",
    )


def from_polyface(exc: Exception) -> OpenAIError:
    """The OpenAI-shaped error for what a provider or the persona layer raised (messages redacted)."""
    message = redact(str(exc))
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, PersonaNotFound):
        return OpenAIError(404, message, code="model_not_found", param="model")
    if isinstance(exc, NoAvatar):
        return OpenAIError(400, message, code="persona_has_no_avatar", param="model")
    if isinstance(exc, pf.MissingCredentials):
        return OpenAIError(
            400,
            f"{exc.provider} is not configured on this server ({exc.env_var} is not set).",
            code="provider_not_configured",
            param="model",
        )
    if isinstance(exc, pf.CapabilityNotSupported):
        return OpenAIError(400, message, code="capability_not_supported", param="model")
    if isinstance(exc, pf.InvalidArgument):
        return OpenAIError(400, message, code="invalid_argument")
    if isinstance(exc, pf.ConfigurationError):
        log.warning("gateway configuration problem: %s", message)
        return OpenAIError(
            503, "the server is not set up to answer this now; try again later", code="server_error"
        )
    if isinstance(exc, pf.NotFound):
        return OpenAIError(404, message, code="model_not_found", param="model")
    if isinstance(exc, pf.InvalidRequest):
        return OpenAIError(400, message, code=exc.code or "invalid_request")
    if isinstance(exc, pf.RateLimited):
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else {}
        return OpenAIError(429, message, code="upstream_rate_limited", type="requests", headers=headers)
    if isinstance(exc, pf.ProviderTimeout):
        return OpenAIError(504, message, code="upstream_timeout", type="server_error")
    if isinstance(exc, pf.ProviderError):
        return OpenAIError(502, message, code="upstream_error", type="server_error")
    if isinstance(exc, pf.PolyfaceError):
        return OpenAIError(500, message, code="polyface_error", type="server_error")
    return OpenAIError(
        500,
        f"unexpected {type(exc).__name__} in the gateway (a bug in polyface: please report it).",
        code="internal_error",
        type="server_error",
    )


class OpenAIRoute(APIRoute):
    """The gateway's routes: whatever fails inside one (the key check, the body's validation, the call)
    answers in OpenAI's shape, without touching the app's other exception handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayAuthError as exc:
                body = {"error": {"message": exc.message, "type": exc.type, "param": None, "code": exc.code}}
                return JSONResponse(body, status_code=exc.status, headers=exc.headers)
            except RequestValidationError as exc:
                return invalid_body(exc).response()
            except HTTPException as exc:
                code = {404: "not_found", 413: "request_too_large"}.get(exc.status_code, "http_error")
                return OpenAIError(exc.status_code, str(exc.detail), code=code).response()
            except Exception as exc:
                if not isinstance(exc, pf.PolyfaceError | OpenAIError):
                    log.exception("gateway %s failed", request.url.path)
                return from_polyface(exc).response()

        return guarded


def invalid_body(exc: RequestValidationError) -> OpenAIError:
    problems = []
    param = None
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        param = param or where or None
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return OpenAIError(
        400, "Invalid request: " + "; ".join(problems), code="invalid_request_body", param=param
    )
