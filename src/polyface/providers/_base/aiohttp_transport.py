"""httpx's async transport over aiohttp's connection pool.

httpcore's async pool slows down several times over once it holds many connections (right after a burst
of concurrent requests, until they expire: encode/httpcore#1035); aiohttp's does not. Requests go out
exactly as httpx built them (no added headers, cookies, decompression or redirects), per-request
timeouts apply, aiohttp's errors become the httpx errors httpcore would raise (so the retry policy reads
them the same way), and a body read to its end returns its connection to the pool. httpx-aiohttp was not
used: it maps a dropped connection to ``ConnectTimeout`` (which reads as "never sent": a create would be
retried), keeps cookies, and logs unclosed sessions.
"""

from __future__ import annotations

import importlib.util
import weakref
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

_AIOHTTP: bool | None = None
# sent as httpx built them: aiohttp must not add its own
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")
_MAX_HEADER_LINE = 65536


def installed() -> bool:
    """Whether aiohttp can be imported (checked once; imported only when a client is made)."""
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
