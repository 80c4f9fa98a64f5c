"""JSON errors with stable codes: ``{"error": {"code": "<stable_code>", "message": "<what to do>"}}``.

``register(app)`` installs exception handlers that turn polyface's errors (and request validation errors,
HTTP errors, and anything unexpected) into that shape with a fitting HTTP status. Unexpected errors are
logged with their traceback and answered with a generic message and an id to find them in the log: no
internals leave the server.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from polyface.errors import (
    BudgetExceeded,
    CapabilityNotSupported,
    ConfigurationError,
    ConsentRequired,
    DatasetError,
    InvalidArgument,
    JobFailed,
    JobTimeout,
    PolyfaceError,
    ProviderError,
)
from polyface.persona.errors import NoAvatar, PersonaExists, PersonaNotFound, RunNotFound

log = logging.getLogger("polyface.server")


class ApiError(Exception):
    """An error the server itself raises: an HTTP status, a stable code and a message saying what to do."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        super().__init__(message)


class UploadTooLarge(ApiError):
    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            413,
            "too_large",
            f"{name} is over the upload limit of {_size(limit)}; send a smaller file (trim or re-encode it).",
            limit_bytes=limit,
        )


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


# (error class, HTTP status, code): the first matching class wins, so subclasses come first.
POLYFACE_ERRORS: Final[Sequence[tuple[type[PolyfaceError], int, str]]] = (
    (PersonaNotFound, 404, "persona_not_found"),
    (RunNotFound, 404, "run_not_found"),
    (PersonaExists, 409, "persona_exists"),
    (DatasetError, 422, "invalid_argument"),
    (InvalidArgument, 400, "invalid_argument"),
    (ConsentRequired, 403, "consent_required"),
    (BudgetExceeded, 402, "budget_exceeded"),
    (CapabilityNotSupported, 400, "capability_not_supported"),
    (NoAvatar, 409, "no_avatar"),
    (ConfigurationError, 500, "configuration_error"),
    (JobFailed, 502, "job_failed"),
    (JobTimeout, 504, "timeout"),
)


def polyface_error_response(exc: PolyfaceError) -> JSONResponse:
    """The JSON error for a polyface error (its message is written for users and holds no secret)."""
    if isinstance(exc, ProviderError):
        headers = {"Retry-After": str(int(exc.retry_after + 0.999))} if exc.retry_after else None
        return error_response(
            502,
            "provider_error",
            str(exc),
            headers=headers,
            provider=exc.provider,
            provider_status=exc.status,
            provider_code=exc.code,
        )
    for cls, status, code in POLYFACE_ERRORS:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, DatasetError):
                extra["problems"] = [
                    {"line": line, "field": field, "message": message}
                    for line, field, message in exc.problems[:100]
                ]
            return error_response(status, code, str(exc), **extra)
    # Other polyface errors (a cancel the provider refused, a run that never reached its provider...)
    # carry messages written for users; they are server-side failures all the same.
    return error_response(500, "polyface_error", str(exc))


async def _polyface(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PolyfaceError)
    response = polyface_error_response(exc)
    if response.status_code >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return response


async def _api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"field": _where(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
    listed = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:10])
    return error_response(
        422,
        "invalid_request",
        f"the request is not valid ({listed}); fix it as described (the API is documented at /docs).",
        problems=problems[:50],
    )


_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"there is nothing at {request.url.path}; the API is documented at /docs."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs for its methods."
    else:
        message = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, headers=headers)


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refused (text holding NUL characters on PostgreSQL, a number out of range):
    the client's input, so a 422 (the statement and its parameters stay in the server's log)."""
    reason = getattr(exc, "orig", None) or type(exc).__name__  # the driver's words, without the parameters
    log.info("%s %s: the database refused a value: %s", request.method, request.url.path, reason)
    return error_response(
        422,
        "invalid_value",
        "a value in the request cannot be stored (text with NUL characters, or a number out of range); "
        "remove it and try again.",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error(
        "%s %s failed unexpectedly (incident %s)", request.method, request.url.path, incident, exc_info=exc
    )
    return error_response(
        500,
        "internal_error",
        f"the server failed unexpectedly; the error is logged as incident {incident}. Try again, and "
        "report the incident id if it keeps failing.",
        incident=incident,
    )


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]
HANDLERS: Final[Sequence[tuple[type[Exception], Handler]]] = (
    (ApiError, _api),
    (PolyfaceError, _polyface),
    (RequestValidationError, _validation),
    (StarletteHTTPException, _http),
    (DataError, _unstorable),
    (Exception, _unexpected),
)


def register(app: FastAPI) -> None:
    for exc_class, handler in HANDLERS:
        app.add_exception_handler(exc_class, handler)
