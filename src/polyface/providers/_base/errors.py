"""Vendor HTTP failures -> polyface errors. One table for every provider."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from polyface import errors as e
from polyface.providers._base.secrets import redact

STATUS_ERRORS: dict[int, type[e.ProviderError]] = {
    400: e.InvalidRequest,
    401: e.AuthenticationError,
    402: e.PermissionDenied,
    403: e.PermissionDenied,
    404: e.NotFound,
    408: e.ProviderTimeout,
    409: e.Conflict,
    413: e.InvalidRequest,
    415: e.InvalidRequest,
    422: e.InvalidRequest,
    429: e.RateLimited,
    503: e.ProviderUnavailable,
    504: e.ProviderTimeout,
    529: e.ProviderUnavailable,
}

# Vendor error codes/types that say more than the status does.
CODE_ERRORS: dict[str, type[e.ProviderError]] = {
    "invalid_api_key": e.AuthenticationError,
    "authentication_error": e.AuthenticationError,
    "permission_error": e.PermissionDenied,
    "insufficient_quota": e.RateLimited,
    "rate_limit_exceeded": e.RateLimited,
    "rate_limit_error": e.RateLimited,
    "model_not_found": e.NotFound,
    "not_found_error": e.NotFound,
    "overloaded_error": e.ProviderUnavailable,
}


def error_class(status: int, code: str | None) -> type[e.ProviderError]:
    """The error for ``status``; a specific vendor code wins (a 400 saying ``invalid_api_key`` is an
    authentication error)."""
    if code and code in CODE_ERRORS:
        return CODE_ERRORS[code]
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return e.ServerError
    return e.InvalidRequest


def transport_error(
    exc: httpx.TransportError, *, provider: str, sent: bool | None = None, hint: str | None = None
) -> e.ProviderError:
    """A failure before any response: a timeout, a refused or dropped connection."""
    what = redact(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the response",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "the request")
        return e.ProviderTimeout(f"timed out {kind} ({what})", provider=provider, hint=hint)
    if isinstance(exc, httpx.RemoteProtocolError):
        return e.ProviderUnavailable(f"the connection was dropped ({what})", provider=provider, hint=hint)
    return e.ProviderUnavailable(f"could not reach the server ({what})", provider=provider, hint=hint)


def never_sent(exc: httpx.TransportError) -> bool:
    """True when the failure proves the request never reached the server."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


CUT_BODY_HINT = "The answer was cut short or garbled on its way (a proxy or the network); try again."


def malformed_body(
    response: httpx.Response,
    *,
    provider: str,
    hint: str | None = None,
    request_id_headers: Iterable[str] = ("x-request-id", "request-id"),
) -> e.ProviderError | None:
    """The error for a successful answer whose JSON body does not parse (cut short by a proxy, or by a
    connection that closed at a point that looked like the end), or None when it parses or is not JSON.

    Without this check the caller's ``response.json()`` raises a bare ``JSONDecodeError``. Call it on a
    response whose body was read (not a stream).
    """
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if response.status_code == 204 or not (media_type == "application/json" or media_type.endswith("+json")):
        return None  # not one JSON document (JSON Lines, a file, text...): the caller reads it its own way
    content = response.content
    try:
        parsed = json.loads(content)
    except ValueError as exc:
        request_id = next((response.headers[h] for h in request_id_headers if h in response.headers), None)
        where = f" at byte {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        return e.ServerError(
            f"the HTTP {response.status_code} answer's JSON body is incomplete or invalid "
            f"({type(exc).__name__}{where} of the {len(content)} received)",
            provider=provider,
            status=response.status_code,
            request_id=request_id,
            hint=hint if hint is not None else CUT_BODY_HINT,
        )
    _hand_over(response, parsed)
    return None


def _hand_over(response: httpx.Response, parsed: Any) -> None:
    """Make the response's next ``json()`` call return ``parsed`` (the body is parsed once, not twice);
    later calls parse afresh as usual, so a caller that changes what it got never sees the change again."""
    parse = response.json
    pending = [parsed]

    def json_once(**kwargs: Any) -> Any:
        if pending and not kwargs:
            return pending.pop()
        return parse(**kwargs)

    response.json = json_once  # type: ignore[method-assign]
