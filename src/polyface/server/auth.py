"""Gateway access: bearer keys (issued, listed, revoked, verified) and per-key rate limits.

A key is ``pf-`` followed by 43 random URL-safe characters. It is shown once, when it is made; the
database keeps only its SHA-256 and its first characters (the ``prefix``, to tell keys apart in lists).
A request's token is looked up by its prefix and its hash compared in constant time.

```python
info, secret = create_key(studio, "laptop", rate_limit_rpm=60)   # print(secret) once
revoke_key(studio, "laptop")                                     # by name or prefix
```

:func:`gateway_key` is the FastAPI dependency of the ``/v1`` routes: a missing, unknown or revoked key
answers 401 in OpenAI's error shape; a key over its requests per minute answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from fastapi import Request
from sqlalchemy import select

from polyface.errors import InvalidArgument
from polyface.persona.tables import ApiKey, now
from polyface.providers._base.ratelimit import RateLimit, RateLimiter
from polyface.types._base import PolyfaceModel

if TYPE_CHECKING:
    from polyface.persona.studio import Studio
    from polyface.server.settings import ServerSettings

KEY_START: Final = "pf-"
PREFIX_CHARS: Final = len(KEY_START) + 8
"""How much of a key is kept readable: ``pf-`` and its first 8 random characters."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOUCH_EVERY: Final = timedelta(seconds=30)
"""``last_used_at`` is written at most this often per key (not one database write per request)."""


class ApiKeyInfo(PolyfaceModel):
    """A gateway key as lists show it: never the secret."""

    id: int
    name: str
    prefix: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    rate_limit_rpm: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class GatewayAuthError(Exception):
    """A gateway request refused before it ran (401 or 429), rendered in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.headers = headers or {}


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        rate_limit_rpm=row.rate_limit_rpm,
    )


# ---- issuing, listing, revoking ---------------------------------------------------------------------


def create_key(studio: Studio, name: str, rate_limit_rpm: float | None = None) -> tuple[ApiKeyInfo, str]:
    """A new key called ``name``: its info and the secret (shown once; only its hash is stored)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"key name {name!r} is not usable: use 1-64 letters, digits, '.', '-' or '_', starting with a "
            "letter or digit."
        )
    if rate_limit_rpm is not None and not rate_limit_rpm > 0:
        raise InvalidArgument(f"rate_limit_rpm must be positive (got {rate_limit_rpm}); omit it for none.")
    secret = KEY_START + secrets.token_urlsafe(32)
    with studio.db.session() as session:
        if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise InvalidArgument(
                f"a key called {name!r} already exists; pick another name, or revoke it first "
                f"(`polyface keys revoke {name}`)."
            )
        row = ApiKey(
            name=name, prefix=secret[:PREFIX_CHARS], key_hash=hash_key(secret), rate_limit_rpm=rate_limit_rpm
        )
        session.add(row)
        session.flush()
        return _info(row), secret


def list_keys(studio: Studio, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
    with studio.db.session() as session:
        query = select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return [_info(row) for row in session.scalars(query)]


def has_active_key(studio: Studio) -> bool:
    with studio.db.session() as session:
        return session.scalar(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)) is not None


def revoke_key(studio: Studio, name_or_prefix: str) -> ApiKeyInfo:
    """Revoke the key with this name, or whose prefix starts with this (at least ``pf-`` and 4 more
    characters). Revoking a revoked key changes nothing."""
    wanted = name_or_prefix.strip()
    with studio.db.session() as session:
        rows = list(session.scalars(select(ApiKey).where(ApiKey.name == wanted)))
        if not rows and wanted.startswith(KEY_START) and len(wanted) >= len(KEY_START) + 4:
            rows = list(
                session.scalars(
                    select(ApiKey).where(ApiKey.prefix.startswith(wanted[:PREFIX_CHARS], autoescape=True))
                )
            )
        if not rows:
            known = ", ".join(f"{r.name} ({r.prefix})" for r in session.scalars(select(ApiKey))) or "none yet"
            raise InvalidArgument(f"no key named or starting with {wanted!r} (keys: {known}).")
        if len(rows) > 1:
            listed = ", ".join(f"{r.name} ({r.prefix})" for r in rows)
            raise InvalidArgument(f"{wanted!r} matches several keys ({listed}); revoke one by its name.")
        row = rows[0]
        if row.revoked_at is None:
            row.revoked_at = now()
            session.flush()
        return _info(row)


def verify_key(studio: Studio, token: str) -> ApiKeyInfo | None:
    """The unrevoked key whose secret is ``token``, else None. Records when it was last used."""
    if not token.startswith(KEY_START) or len(token) < PREFIX_CHARS + 8:
        return None
    digest = hash_key(token)
    with studio.db.session() as session:
        candidates = session.scalars(select(ApiKey).where(ApiKey.prefix == token[:PREFIX_CHARS]))
        found = next((row for row in candidates if hmac.compare_digest(row.key_hash, digest)), None)
        if found is None or found.revoked_at is not None:
            return None
        stamp = now()
        if found.last_used_at is None or stamp - found.last_used_at > _TOUCH_EVERY:
            found.last_used_at = stamp
            session.flush()
        return _info(found)


# ---- the FastAPI dependency --------------------------------------------------------------------------


def _unauthorized(message: str) -> GatewayAuthError:
    return GatewayAuthError(
        401,
        message,
        type="invalid_request_error",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class _Limiters:
    """One limiter per key (and its requests per minute), kept for the app's life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, float], RateLimiter] = {}

    def get(self, key: str, rpm: float, redis_url: str | None) -> RateLimiter:
        with self._lock:
            limiter = self._by_key.get((key, rpm))
            if limiter is None:
                # a burst of a whole minute: N requests pass at once, then one every 60/N seconds
                limit = RateLimit(requests_per_minute=rpm, requests_burst=rpm)
                limiter = RateLimiter(limit, key=f"gateway:{key}", redis_url=redis_url)
                self._by_key[(key, rpm)] = limiter
            return limiter


def _limiters(request: Request) -> _Limiters:
    state: Any = request.app.state
    limiters = getattr(state, "gateway_limiters", None)
    if limiters is None:
        limiters = state.gateway_limiters = _Limiters()
    return limiters


async def check_rate(request: Request, key: ApiKeyInfo | None) -> None:
    """Count one request against the key's budget; 429 with ``Retry-After`` when it has none left
    (the refused request is not counted)."""
    settings: ServerSettings = request.app.state.settings
    rpm = (key.rate_limit_rpm if key is not None else None) or settings.rate_limit_rpm
    if not rpm:
        return
    limiter = _limiters(request).get(key.prefix if key else "anonymous", float(rpm), settings.redis_url)
    wait = await limiter.areserve(1)
    if wait <= 1e-6:
        return
    await limiter.areserve(-1)  # give the reservation back: a refused request uses no budget
    seconds = max(1, math.ceil(wait))
    raise GatewayAuthError(
        429,
        f"Rate limit reached for this key ({rpm:g} requests per minute); try again in {seconds} s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(seconds)},
    )


async def gateway_key(request: Request) -> ApiKeyInfo | None:
    """The dependency of every ``/v1`` route: the caller's key (None when keys are not required)."""
    from starlette.concurrency import run_in_threadpool

    settings: ServerSettings = request.app.state.settings
    token = _bearer(request)
    key: ApiKeyInfo | None = None
    if settings.require_keys:
        if token is None:
            raise _unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer pf-...'; "
                "make one with `polyface keys create NAME`."
            )
        key = await run_in_threadpool(verify_key, request.app.state.studio, token)
        if key is None:
            raise _unauthorized(
                "Incorrect or revoked API key provided. Make a new one with `polyface keys create NAME`."
            )
    request.state.gateway_key = key
    await check_rate(request, key)
    return key
