"""The transport: one pooled HTTP client per provider instance (sync and async).

Every request passes the rate limiter, the retry policy and the error mapping here,
once, for all capabilities. Streams retry only until the first byte of a successful
response; closing a stream early closes its connection, and a stream read to its end
returns its connection to the pool.

The async client sends through aiohttp's connection pool (:class:`AiohttpTransport`) where aiohttp is
installed: httpcore's async pool slows down several times over once it holds many connections (right
after a burst of concurrent requests, until they expire: encode/httpcore#1035); aiohttp's does not.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING, Any

import httpx

from polyface._version import __version__
from polyface.errors import ProviderError
from polyface.providers._base.errors import error_class, never_sent, transport_error

if TYPE_CHECKING:
    import aiohttp

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
                    if aiohttp_installed():
                        kwargs["transport"] = AiohttpTransport(self.config.max_connections, KEEPALIVE_EXPIRY)
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
                    return response
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
                    return response
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


# ---- the async transport ----------------------------------------------------------------------------
_AIOHTTP: bool | None = None
# sent as httpx built them: aiohttp must not add its own
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")
_MAX_HEADER_LINE = 65536


def aiohttp_installed() -> bool:
    global _AIOHTTP
    if _AIOHTTP is None:
        _AIOHTTP = importlib.util.find_spec("aiohttp") is not None
    return _AIOHTTP


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's async transport over aiohttp's connection pool (one per client, so one per event loop).

    The request goes out as httpx built it (headers, body, multipart and streamed uploads); aiohttp
    follows no redirect, keeps no cookie and decompresses nothing (httpx does); the per-request
    timeouts apply; aiohttp's failures become the httpx errors httpcore raises for the same failure
    (so that "was the request sent?" keeps its answer). A response closed before its end closes its
    connection; one read to its end returns it to the pool. aiohttp is imported on first use.
    """

    def __init__(self, max_connections: int, keepalive_expiry: float) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._timeouts: dict[tuple[float | None, float | None, float | None], aiohttp.ClientTimeout] = {}
        self._url: Any = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp
        import yarl

        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=httpx.create_ssl_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            max_line_size=_MAX_HEADER_LINE,
            max_field_size=_MAX_HEADER_LINE,
        )
        self._url = yarl.URL
        self._finalizer = weakref.finalize(self, _close_abandoned, connector)
        return self._session

    def _timeout(self, spec: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            import aiohttp

            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            # aiohttp's ``connect`` covers the wait for a pooled connection (httpx's ``pool``) and the
            # connection; ``sock_connect`` the connection alone; ``sock_read`` the gap between two reads.
            connect, read, pool = key
            timeout = aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        headers = request.headers.multi_items()
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body (an upload): aiohttp chunks it unless it has a length
            data = request.stream
            headers = [(name, value) for name, value in headers if name.lower() != "transfer-encoding"]
        try:
            response = await session.request(
                request.method,
                self._url(str(request.url), encoded=True),
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        version = response.version
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_AiohttpStream(response),
            request=request,
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if session is not None:
            await session.close()


class _AiohttpStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # stopped early: the rest of the body is unknown, so the connection goes


def _httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error httpcore raises for the same failure; None when ``exc`` is not a transport failure."""
    import aiohttp

    if not isinstance(exc, aiohttp.ClientError):
        return None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connecting, or waiting for a pooled connection
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, DNS, TLS handshake
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)  # the server closed the connection mid-answer
    if isinstance(exc, aiohttp.ClientResponseError):  # an answer that is not HTTP
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if type(exc).__name__ == "UploadAbortedError":  # aiohttp >= 3.14: the body was not fully sent
        return httpx.WriteError(message)
    return httpx.ReadError(message)  # a reset connection and the like: maybe sent, so never "not sent"


def _close_abandoned(connector: aiohttp.BaseConnector) -> None:
    """Close the pool of a client dropped without ``aclose()`` (httpx's pool goes quietly; aiohttp's
    would log "Unclosed client session" and "Unclosed connector" errors)."""
    close = getattr(connector, "_close", None)
    if close is not None:
        with suppress(Exception):  # a loop in an odd state: the sockets close with it
            close()
