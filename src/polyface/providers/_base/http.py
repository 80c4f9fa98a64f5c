"""The transport: one pooled HTTP client per provider instance (sync and async).

Every request passes the rate limiter, the retry policy and the error mapping here,
once, for all capabilities. Streams retry only until the first byte of a successful
response; closing a stream early closes its connection, and a stream read to its end
returns its connection to the pool.

The async client sends through aiohttp's connection pool where aiohttp is installed
(:mod:`polyface.providers._base.aiohttp_transport` says why).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from polyface._version import __version__
from polyface.errors import ProviderError
from polyface.providers._base import aiohttp_transport
from polyface.providers._base.errors import error_class, malformed_body, never_sent, transport_error

if TYPE_CHECKING:
    from polyface.providers._base.config import ProviderConfig

KEEPALIVE_EXPIRY = 30.0
"""Seconds an idle pooled connection is kept."""
NOT_RETRIED_HINT = (
    "This request creates something and may have reached the provider, so polyface did not retry it "
    "(a retry could create a duplicate). Check whether it exists before trying again."
)


class HttpEngine:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client: httpx.Client | None = None
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.log = config.telemetry.log
        self.stats = {"requests": 0, "retries": 0}

    # ---- clients ----------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        headers = {
            "User-Agent": f"polyface/{__version__}",
            "Accept": "application/json",
            **cfg.extra_headers,
            **cfg.auth_headers(),
        }
        return {
            "base_url": cfg.base_url,
            "headers": headers,
            "timeout": httpx.Timeout(cfg.read_timeout, connect=cfg.connect_timeout),
            "limits": httpx.Limits(
                max_connections=cfg.max_connections,
                max_keepalive_connections=cfg.max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            ),
            "follow_redirects": False,
        }

    @property
    def client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(**self._client_kwargs())
                client = self._client
        return client

    @property
    def aclient(self) -> httpx.AsyncClient:
        """The async client of the running event loop (a pool belongs to the loop that opened its
        connections, so each loop gets its own; close it with ``await adapter.aclose()`` in that loop)."""
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            with self._lock:
                client = self._aclients.get(loop)
                if client is None:
                    kwargs = self._client_kwargs()
                    if aiohttp_transport.installed():
                        kwargs["transport"] = aiohttp_transport.AiohttpTransport(
                            self.config.max_connections, KEEPALIVE_EXPIRY
                        )
                    client = self._aclients[loop] = httpx.AsyncClient(**kwargs)
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    # ---- policy shared by sync and async ----------------------------------------------
    def _timeout(self, timeout: float | httpx.Timeout | None) -> Any:
        if timeout is None:
            return httpx.USE_CLIENT_DEFAULT
        if isinstance(timeout, httpx.Timeout):
            return timeout
        return httpx.Timeout(timeout, connect=min(timeout, self.config.connect_timeout))

    def _failed_response(
        self, response: httpx.Response, attempt: int, idempotent: bool
    ) -> tuple[ProviderError, float | None]:
        """The error for a failed response, and the delay before a retry (None: raise)."""
        retry = self.config.retry
        status = response.status_code
        if response.is_redirect:
            where = response.headers.get("location", "?").split("?", 1)[0]
            return ProviderError(
                f"unexpected redirect (HTTP {status}) to {where}",
                provider=self.config.info.display_name,
                status=status,
                hint="polyface does not follow redirects with your key; check the base URL.",
            ), None
        if not hasattr(response, "_content"):
            # the error body could not be read (the connection broke while reading it)
            error = error_class(status, None)(
                "the error response was cut off before its body arrived",
                provider=self.config.info.display_name,
                status=status,
            )
            retryable = retry.should_retry_status(status, idempotent=idempotent)
            return error, retry.delay(attempt, None) if retryable else None
        retryable = retry.should_retry_status(status, idempotent=idempotent)
        hint = None if idempotent or retryable or status < 500 else NOT_RETRIED_HINT
        error = self.config.error_from_response(response, hint=hint)
        delay = retry.delay(attempt, error.retry_after) if retryable else None
        if delay is None and retryable and attempt and hint is None:
            error.hint = f"polyface tried {attempt + 1} times. {error.hint}"
            error.args = (error._render(),)
        return error, delay

    def _malformed(
        self, response: httpx.Response, attempt: int, idempotent: bool
    ) -> tuple[ProviderError, float | None] | None:
        """For a successful answer whose JSON body is cut or invalid: the error, and the delay before a
        retry (None: raise); None when the body is fine. Retried like a dropped connection."""
        error = malformed_body(
            response,
            provider=self.config.info.display_name,
            hint=None if idempotent else NOT_RETRIED_HINT,
            request_id_headers=self.config.info.request_id_headers,
        )
        if error is None:
            return None
        return error, self.config.retry.delay(attempt, None) if idempotent else None

    def _failed_transport(
        self, exc: httpx.TransportError, attempt: int, idempotent: bool
    ) -> tuple[ProviderError, float | None]:
        retryable = idempotent or never_sent(exc)
        hint = None if retryable else NOT_RETRIED_HINT
        error = transport_error(exc, provider=self.config.info.display_name, hint=hint)
        delay = self.config.retry.delay(attempt, None) if retryable else None
        return error, delay

    def _log_retry(self, method: str, path: str, error: ProviderError, delay: float, attempt: int) -> None:
        self.stats["retries"] += 1
        self.log.info(
            "%s %s failed (%s); retry %d/%d in %.2fs",
            method,
            path,
            error.status or type(error).__name__,
            attempt + 1,
            self.config.retry.max_retries,
            delay,
        )

    # ---- one request ----------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        files: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        timeout: float | httpx.Timeout | None = None,
        tokens: float = 0,
        expect_redirect: bool = False,
    ) -> httpx.Response:
        """Send a request; return the successful response or raise a polyface error.

        ``idempotent=False`` marks requests that create things: they are retried only
        when the vendor provably did not act (HTTP 429, or no connection was made).
        """
        limiter = self.config.limiter
        client = self.client
        attempt = 0
        while True:
            if limiter.enabled:
                limiter.acquire(1, tokens)
            self.stats["requests"] += 1
            try:
                response = client.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    content=content,
                    files=files,
                    data=data,
                    headers=headers,
                    timeout=self._timeout(timeout),
                )
            except httpx.TransportError as exc:
                error, delay = self._failed_transport(exc, attempt, idempotent)
            else:
                if response.is_success or (expect_redirect and response.is_redirect):
                    cut = self._malformed(response, attempt, idempotent)
                    if cut is None:
                        return response
                    error, delay = cut
                else:
                    error, delay = self._failed_response(response, attempt, idempotent)
            if delay is None:
                raise error
            self._log_retry(method, path, error, delay, attempt)
            time.sleep(delay)
            attempt += 1

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        files: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        timeout: float | httpx.Timeout | None = None,
        tokens: float = 0,
        expect_redirect: bool = False,
    ) -> httpx.Response:
        limiter = self.config.limiter
        client = self.aclient
        attempt = 0
        while True:
            if limiter.enabled:
                await limiter.aacquire(1, tokens)
            self.stats["requests"] += 1
            try:
                response = await client.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    content=content,
                    files=files,
                    data=data,
                    headers=headers,
                    timeout=self._timeout(timeout),
                )
            except httpx.TransportError as exc:
                error, delay = self._failed_transport(exc, attempt, idempotent)
            else:
                if response.is_success or (expect_redirect and response.is_redirect):
                    cut = self._malformed(response, attempt, idempotent)
                    if cut is None:
                        return response
                    error, delay = cut
                else:
                    error, delay = self._failed_response(response, attempt, idempotent)
            if delay is None:
                raise error
            self._log_retry(method, path, error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1

    # ---- streams ----------------------------------------------------------------------
    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        timeout: float | httpx.Timeout | None = None,
        tokens: float = 0,
        expect_redirect: bool = False,
    ) -> Iterator[httpx.Response]:
        """A streaming response, retried until its first byte; closed on exit."""
        limiter = self.config.limiter
        client = self.client
        attempt = 0
        while True:
            if limiter.enabled:
                limiter.acquire(1, tokens)
            self.stats["requests"] += 1
            request = client.build_request(method, path, json=json, timeout=self._timeout(timeout))
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:
                error, delay = self._failed_transport(exc, attempt, True)
            else:
                if response.is_success or (expect_redirect and response.is_redirect):
                    try:
                        yield response
                    except httpx.TransportError as exc:
                        raise transport_error(exc, provider=self.config.info.display_name) from None
                    finally:
                        response.close()
                    return
                try:
                    response.read()
                except httpx.TransportError:
                    pass
                finally:
                    response.close()
                error, delay = self._failed_response(response, attempt, True)
            if delay is None:
                raise error
            self._log_retry(method, path, error, delay, attempt)
            time.sleep(delay)
            attempt += 1

    @asynccontextmanager
    async def astream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        timeout: float | httpx.Timeout | None = None,
        tokens: float = 0,
        expect_redirect: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        limiter = self.config.limiter
        client = self.aclient
        attempt = 0
        while True:
            if limiter.enabled:
                await limiter.aacquire(1, tokens)
            self.stats["requests"] += 1
            request = client.build_request(method, path, json=json, timeout=self._timeout(timeout))
            try:
                response = await client.send(request, stream=True)
            except httpx.TransportError as exc:
                error, delay = self._failed_transport(exc, attempt, True)
            else:
                if response.is_success or (expect_redirect and response.is_redirect):
                    try:
                        yield response
                    except httpx.TransportError as exc:
                        raise transport_error(exc, provider=self.config.info.display_name) from None
                    finally:
                        await response.aclose()
                    return
                try:
                    await response.aread()
                except httpx.TransportError:
                    pass
                finally:
                    await response.aclose()
                error, delay = self._failed_response(response, attempt, True)
            if delay is None:
                raise error
            self._log_retry(method, path, error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1
