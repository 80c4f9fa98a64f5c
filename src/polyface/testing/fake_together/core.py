"""A local fake of the Together AI REST API, for tests, demos and benchmarks.

It speaks Together's wire format (JSON and server-sent events) on ``127.0.0.1`` and a free port, served by
uvicorn in a background thread, so that synchronous and asynchronous clients can both talk to it::

    with FakeTogether() as fake:
        client = httpx.Client(base_url=fake.base_url, headers={"Authorization": f"Bearer {fake.api_key}"})
        client.post("/chat/completions", json={"model": ..., "messages": [...]})
        assert fake.requests[-1].path == "/v1/chat/completions"

Replies are deterministic (``"Echo: " + <last user message>``; usage counts whitespace-separated words) and
faults can be injected: error statuses (:meth:`FakeTogether.fail`, or for a stretch of time:
:meth:`FakeTogether.fail_for`), errors after the work was done (:meth:`FakeTogether.fail_after_processing`),
slow answers (:meth:`FakeTogether.delay`), bodies cut short (:meth:`FakeTogether.truncate_body`), request
bodies read slowly (:meth:`FakeTogether.slow_read`), streams cut mid-body (:meth:`FakeTogether.drop_stream`)
and slow streams (:meth:`FakeTogether.slow_stream`). :attr:`FakeTogether.faults_served` counts what was
injected.

The module is standalone: it imports nothing from polyface (only starlette and uvicorn, the ``fake`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Final, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_API_KEY",
    "ERROR_DEFAULTS",
    "ROUTES",
    "FakeServer",
    "FakeTogether",
    "RecordedRequest",
    "RouteSpec",
    "default_models",
    "route",
]

DEFAULT_API_KEY: Final = "tgp_v1_fake_0123456789abcdef"

#: Default ``(message, type)`` of the error body per HTTP status; ``code`` repeats the type.
ERROR_DEFAULTS: Final[Mapping[int, tuple[str, str]]] = {
    400: ("Invalid request", "invalid_request_error"),
    401: ("Invalid API key provided", "invalid_api_key"),
    403: ("You do not have permission to access this resource", "permission_denied"),
    404: ("The model does not exist or you do not have access to it", "model_not_found"),
    409: ("The request conflicts with the current state of the resource", "conflict"),
    422: ("The request could not be processed", "unprocessable_entity"),
    429: ("Rate limit exceeded, please try again later", "rate_limit_exceeded"),
    500: ("Internal server error", "server_error"),
    502: ("Bad gateway", "bad_gateway"),
    503: ("The server is overloaded", "service_unavailable"),
    504: ("The request timed out", "timeout"),
    529: ("The service is temporarily overloaded", "overloaded"),
}

_ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_DROP_LOG_MESSAGE: Final = "ASGI callable returned without completing response."
_WORD_PIECES: Final = re.compile(r"\s*\S+\s*")
_WEATHER: Final = re.compile(r"\bweather\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it (recorded before it was answered, faults included)."""

    method: str
    path: str
    """The URL path, e.g. ``"/v1/chat/completions"``."""
    query: str
    """The raw query string without ``?`` (``""`` if none)."""
    headers: dict[str, str]
    """Header names in lower case; repeated headers are joined with ``", "``."""
    body: bytes
    json: Any
    """The parsed JSON body, or ``None`` when the body is empty or not JSON."""
    time: float
    """``time.monotonic()`` when the request arrived."""
    request_id: str = ""
    """The ``x-request-id`` the fake answered this request with."""


def default_models() -> list[dict[str, Any]]:
    """A fresh copy of the default catalog: Together ``ModelInfo`` objects, prices in USD per 1M tokens."""

    def model(
        model_id: str,
        kind: str,
        display_name: str,
        organization: str,
        context_length: int,
        price_in: float,
        price_out: float,
        *,
        base: float = 0.0,
        license_: str = "apache-2.0",
    ) -> dict[str, Any]:
        return {
            "id": model_id,
            "object": "model",
            "created": 1_733_011_200,
            "type": kind,
            "display_name": display_name,
            "organization": organization,
            "link": f"https://huggingface.co/{model_id}",
            "license": license_,
            "context_length": context_length,
            "pricing": {"hourly": 0.0, "input": price_in, "output": price_out, "base": base, "finetune": 0.0},
        }

    return [
        model(
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "chat",
            "Meta Llama 3.3 70B Instruct Turbo",
            "Meta",
            131_072,
            0.88,
            0.88,
            license_="llama3.3",
        ),
        model(
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            "chat",
            "Meta Llama 3.1 8B Instruct Turbo",
            "Meta",
            131_072,
            0.18,
            0.18,
            license_="llama3.1",
        ),
        model(
            "Qwen/Qwen2.5-7B-Instruct-Turbo", "chat", "Qwen 2.5 7B Instruct Turbo", "Qwen", 32_768, 0.30, 0.30
        ),
        model(
            "BAAI/bge-base-en-v1.5", "embedding", "BAAI-Bge-Base-1.5", "BAAI", 512, 0.008, 0.0, license_="mit"
        ),
        model(
            "black-forest-labs/FLUX.1-schnell",
            "image",
            "FLUX.1 [schnell]",
            "Black Forest Labs",
            0,
            0.0,
            0.0,
            base=0.0027,
        ),
        model("mistralai/Mixtral-8x7B-v0.1", "language", "Mixtral-8x7B v0.1", "mistralai", 32_768, 0.6, 0.6),
        # The live API also lists these types, which the spec's ModelInfo.type enum leaves out.
        model(
            "Salesforce/Llama-Rank-V1", "rerank", "Salesforce Llama Rank V1", "Salesforce", 8_192, 0.1, 0.1
        ),
        model("cartesia/sonic", "audio", "Cartesia Sonic", "Cartesia", 0, 0.0, 0.0),
        model("hexgrad/Kokoro-82M", "audio", "Kokoro 82M", "hexgrad", 0, 0.0, 0.0),
        model("openai/whisper-large-v3", "transcribe", "Whisper large v3", "OpenAI", 0, 0.0, 0.0),
        model("minimax/hailuo-02", "video", "MiniMax Hailuo 02", "MiniMax", 0, 0.0, 0.0),
    ]


# --------------------------------------------------------------------------------------------------
# Fault plans


@dataclass(slots=True)
class _Fault:
    path: str
    status: int
    headers: dict[str, str]
    body: Mapping[str, Any] | str | bytes | None
    remaining: int
    after_processing: bool
    until: float | None = None
    """For :meth:`FakeServer.fail_for`: ``time.monotonic()`` after which the fault is over."""


@dataclass(slots=True)
class _Truncation:
    path: str
    keep: float
    close_connection: bool
    remaining: int


@dataclass(slots=True)
class _SlowRead:
    path: str
    bytes_per_second: float
    remaining: int


@dataclass(slots=True)
class _Delay:
    path: str
    seconds: float
    remaining: int


@dataclass(slots=True)
class _StreamPlan:
    remaining: int
    after_chunks: int = 0
    interval: float = 0.0
    chunks: int = 0


@dataclass(slots=True)
class _StreamMode:
    """What one streaming response does, decided when the request arrives."""

    drop_after: int | None = None
    interval: float = 0.0
    filler_chunks: int | None = None


def _normalize_path(path: str) -> str:
    if path == "*" or path.startswith(("/v1/", "/v2/", "/presigned/")):
        return path
    return "/v1" + (path if path.startswith("/") else "/" + path)


def _check_times(times: int) -> None:
    if times < 1:
        raise ValueError(f"times must be >= 1, got {times}")


# --------------------------------------------------------------------------------------------------
# Small wire helpers


def _error_body(status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
    default_message, default_type = ERROR_DEFAULTS.get(
        status, (f"HTTP {status}", "server_error" if status >= 500 else "invalid_request_error")
    )
    error_type = code or default_type
    return {"error": {"message": message or default_message, "type": error_type, "code": error_type}}


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def _content_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        return " ".join(parts)
    return ""


def _word_count(text: str) -> int:
    return len(text.split())


def _truncate_words(text: str, max_words: int | None) -> tuple[str, bool]:
    """``text`` cut to ``max_words`` words (keeping the original spacing); whether it was cut."""
    if max_words is None:
        return text, False
    pieces = _WORD_PIECES.findall(text)
    if len(pieces) <= max_words:
        return text, False
    return "".join(pieces[:max_words]).rstrip(), True


def _sse(data: Mapping[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def _optional_int(body: Mapping[str, Any], name: str, minimum: int, maximum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _BadRequest(f"'{name}' must be an integer >= {minimum}", code="invalid_request_error")
    if maximum is not None and value > maximum:
        raise _BadRequest(f"'{name}' must be an integer <= {maximum}", code="invalid_request_error")
    return value


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------
# The streaming response


class _EventStream(StreamingResponse):
    """An SSE response that notices client disconnects and can be cut mid-body or slowed down."""

    def __init__(
        self,
        owner: FakeServer,
        generation: int,
        events: Iterator[bytes],
        mode: _StreamMode,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(self._unused(), media_type="text/event-stream", headers=headers)
        self._owner = owner
        self._generation = generation
        self._events = events
        self._mode = mode

    @staticmethod
    async def _unused() -> AsyncIterator[bytes]:  # pragma: no cover - __call__ does not use body_iterator
        yield b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        sent = 0
        outcome = "cancelled"  # unless proven otherwise: the client went away, or the task was cancelled
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            for event in self._events:
                if self._mode.drop_after is not None and sent >= self._mode.drop_after:
                    break
                if self._mode.interval > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(disconnected.wait(), self._mode.interval)
                else:
                    await asyncio.sleep(0)  # let the disconnect watcher run
                if disconnected.is_set():
                    return
                await send({"type": "http.response.body", "body": event, "more_body": True})
                sent += 1
            if self._mode.drop_after is not None:
                # Returning without the final empty body makes uvicorn close the connection mid-body: the
                # client sees an incomplete chunked body, not a clean end.
                outcome = "dropped"
                return
            if disconnected.is_set():
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            outcome = "finished"
        except OSError:
            return
        finally:
            watcher.cancel()
            if outcome == "cancelled":
                self._owner._note_stream_cancelled(self._generation)
            elif outcome == "dropped":
                self._owner._note_stream_dropped(self._generation)


class _CutResponse(Response):
    """``original``'s answer with its body cut to ``keep`` bytes.

    With ``close_connection=False`` the cut body is a complete HTTP response (its ``content-length`` says
    ``keep``): a 2xx whose JSON stops mid-way, as a broken proxy or cache sends it. With ``True`` the
    headers announce the whole body and the connection is closed after the part: the client sees the
    connection drop while reading the body.
    """

    def __init__(self, original: Response, keep: int, close_connection: bool) -> None:
        body = bytes(original.body)
        headers = {k: v for k, v in original.headers.items() if k.lower() != "content-length"}
        super().__init__(body[:keep], status_code=original.status_code, headers=headers)
        self._close_connection = close_connection
        if close_connection:
            self.headers["content-length"] = str(len(body))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._close_connection:
            await super().__call__(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        # Returning without the rest of the announced body makes uvicorn close the connection mid-body.


class _QuietLogFilter(logging.Filter):
    """Hides uvicorn's error lines about what this fake does on purpose, only for records from its own thread:
    connections cut by :meth:`FakeTogether.drop_stream`, and requests still running when it stops."""

    def __init__(self) -> None:
        super().__init__()
        self.thread_id: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread_id:
            return True
        if record.msg == _DROP_LOG_MESSAGE:
            return False
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


Handler = Callable[[RecordedRequest, int], Awaitable[Response]]
ExtraHandler = Callable[[Any, RecordedRequest, int, "re.Match[str]"], Awaitable[Response]]
"""A route handler: (the fake server (a FakeServer subclass), the request, its generation, the path match)."""


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route an area module (``fake_together/<area>.py``) adds: method, full-match path regex, handler.

    ``auth=False`` serves it without the bearer key (a presigned upload URL, for example).
    """

    method: str
    pattern: re.Pattern[str]
    handler: ExtraHandler
    auth: bool = True


def route(
    method: str, pattern: str, *, auth: bool = True, server: type[FakeServer] | None = None
) -> Callable[[ExtraHandler], ExtraHandler]:
    """Decorator for area modules: ``@route("POST", r"/v1/embeddings")`` adds a route to ``server``
    (default: :class:`FakeTogether`)."""

    def register(handler: ExtraHandler) -> ExtraHandler:
        (server or FakeTogether).routes.append(RouteSpec(method, re.compile(pattern), handler, auth))
        return handler

    return register


# --------------------------------------------------------------------------------------------------
# The fake


class FakeServer:
    """A fake vendor API server speaking OpenAI-style chat (which Together, OpenAI and the OpenAI-compatible
    servers share), with request recording and fault injection. Use as a context manager, or call
    :meth:`start` / :meth:`stop`. Vendors subclass it (:class:`FakeTogether`, ...) and add routes with
    :func:`route`; each subclass has its own route list.

    All attributes and methods may be used from any thread while the server runs.
    """

    vendor: ClassVar[str] = "OpenAI-compatible"
    default_api_key: ClassVar[str] = DEFAULT_API_KEY
    routes: ClassVar[list[RouteSpec]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.routes = []

    @classmethod
    def default_catalog(cls) -> list[dict[str, Any]]:
        return default_models()

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        models: list[dict[str, Any]] | None = None,
        strict_models: bool = False,
        http: str = "h11",
        loop: str = "asyncio",
    ) -> None:
        self.api_key: str = api_key or self.default_api_key
        self.host = host
        self._requested_port = port
        self._http = http
        self._loop = loop
        self.models: list[dict[str, Any]] = self.default_catalog() if models is None else models
        """The catalog served by ``GET /v1/models``; mutable."""
        self.strict_models: bool = strict_models
        """If true, inference requests for a model not in :attr:`models` get 404 ``model_not_found``. Off by
        default: like the real API, which serves fine-tuned and dedicated models that ``/models`` omits."""

        self._lock = threading.Lock()
        self._generation = 0
        self._requests: list[RecordedRequest] = []
        self._fine_tunes: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._drops: list[_StreamPlan] = []
        self._slows: list[_StreamPlan] = []
        self._truncations: list[_Truncation] = []
        self._slow_reads: list[_SlowRead] = []
        self._abandoned: list[RecordedRequest] = []
        self._served: dict[str, int] = {}
        self._streams_cancelled = 0
        self._streams_dropped = 0
        self.store: dict[str, Any] = {}
        """State of the area modules (files, videos, ...), keyed by area; cleared by :meth:`reset`."""

        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._log_filter = _QuietLogFilter()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=_ALL_METHODS)])

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Self:
        """Start the server in a background thread and wait until it accepts connections. Idempotent."""
        if self._server is not None:
            return self
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self._requested_port,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            loop=self._loop,
            http=self._http,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="fake-together", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fake Together server failed to start (see the uvicorn log)")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the fake Together server did not start within {timeout} s")
            time.sleep(0.002)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])
        self._server = server
        self._thread = thread
        self._log_filter.thread_id = thread.ident
        logging.getLogger("uvicorn.error").addFilter(self._log_filter)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server, abandoning in-flight requests. Idempotent; :meth:`start` may be called again."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout)
        logging.getLogger("uvicorn.error").removeFilter(self._log_filter)
        self._server = None
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None and self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake Together server is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the fake's equivalent of ``https://api.together.ai/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    # ---- what the tests read ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received since the last :meth:`reset`, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def fine_tunes(self) -> list[dict[str, Any]]:
        """Jobs created by ``POST /v1/fine-tunes`` (a new list; the job dicts are live and may be edited)."""
        with self._lock:
            return list(self._fine_tunes)

    @property
    def streams_cancelled(self) -> int:
        """Streams the client disconnected from before they finished (as noticed by the server)."""
        with self._lock:
            return self._streams_cancelled

    @property
    def streams_dropped(self) -> int:
        """Streams the fake cut on purpose (:meth:`drop_stream`)."""
        with self._lock:
            return self._streams_dropped

    @property
    def abandoned_requests(self) -> list[RecordedRequest]:
        """Requests whose client went away before their body fully arrived (``body`` holds what did); they
        are not in :attr:`requests` and were not acted on. Seen with :meth:`slow_read`."""
        with self._lock:
            return list(self._abandoned)

    @property
    def faults_served(self) -> dict[str, int]:
        """How many times each kind of injected fault happened since the last :meth:`reset`: ``fail``
        (:meth:`fail` / :meth:`fail_for`), ``fail_after_processing``, ``delay``, ``truncate_body``,
        ``slow_read``, ``drop_stream``, ``slow_stream``. Kinds that never happened are absent."""
        with self._lock:
            return dict(self._served)

    def reset(self) -> None:
        """Clear recorded requests, pending faults, counters and fine-tune jobs (not the model catalog)."""
        with self._lock:
            self._generation += 1
            self._requests.clear()
            self._truncations.clear()
            self._slow_reads.clear()
            self._abandoned.clear()
            self._served.clear()
            self._fine_tunes.clear()
            self._faults.clear()
            self._delays.clear()
            self._drops.clear()
            self._slows.clear()
            self._streams_cancelled = 0
            self._streams_dropped = 0
            self.store.clear()

    # ---- fault injection -------------------------------------------------------------------------

    def fail(
        self,
        path: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | str | bytes | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` (``"/v1/chat/completions"``, or ``"*"`` for any)
        with ``status`` without doing the work (checked before authentication).

        The body is a Together error ``{"error": {"message", "type", "code"}}`` (see :data:`ERROR_DEFAULTS`)
        unless ``body`` is given: a dict is sent as JSON, a str or bytes as-is (``text/plain``).
        A path without the ``/v1`` prefix gets it.
        """
        self._add_fault(path, status, times, headers, body, after_processing=False)

    def fail_after_processing(
        self,
        path: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | str | bytes | None = None,
    ) -> None:
        """Like :meth:`fail`, but the request is processed first (e.g. the fine-tune job is created) and only
        its successful answer is replaced by the error. Requests that fail anyway do not use it up."""
        self._add_fault(path, status, times, headers, body, after_processing=True)

    def fail_for(
        self,
        path: str,
        status: int,
        seconds: float,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | str | bytes | None = None,
    ) -> None:
        """Like :meth:`fail`, for every request to ``path`` during the next ``seconds`` (a storm), e.g.
        ``fail_for("*", 429, 0.5, headers={"retry-after-ms": "50"})``."""
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        fault = _Fault(
            _normalize_path(path),
            status,
            dict(headers or {}),
            body,
            remaining=1 << 62,
            after_processing=False,
            until=time.monotonic() + seconds,
        )
        with self._lock:
            self._faults.append(fault)

    def truncate_body(
        self, path: str, keep: float = 0.5, times: int = 1, *, close_connection: bool = False
    ) -> None:
        """Cut the body of the next ``times`` successful (2xx, not streaming) answers to ``path`` (or
        ``"*"``) to the fraction ``keep`` of its bytes, after the work was done (a created job exists).

        ``close_connection=False``: the cut body is sent as a complete response (``content-length``
        matches it), a 2xx with cut JSON. ``True``: ``content-length`` announces the whole body and the
        connection closes after the part (the client sees the connection drop mid-body).
        """
        _check_times(times)
        if not 0 <= keep < 1:
            raise ValueError(f"keep must be a fraction in [0, 1), got {keep}")
        with self._lock:
            self._truncations.append(_Truncation(_normalize_path(path), keep, close_connection, times))

    def slow_read(self, path: str, bytes_per_second: float, times: int = 1) -> None:
        """Read the request bodies of the next ``times`` requests to ``path`` (or ``"*"``) at
        ``bytes_per_second``: a slow upload link. TCP flow control throttles the client's sending to that
        pace. A client that gives up before its body fully arrived is counted in :attr:`abandoned_requests`,
        not in :attr:`requests`, and nothing is done for it."""
        _check_times(times)
        if bytes_per_second <= 0:
            raise ValueError(f"bytes_per_second must be > 0, got {bytes_per_second}")
        with self._lock:
            self._slow_reads.append(_SlowRead(_normalize_path(path), bytes_per_second, times))

    def delay(self, path: str, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` requests to ``path`` (or ``"*"``)."""
        _check_times(times)
        with self._lock:
            self._delays.append(_Delay(_normalize_path(path), seconds, times))

    def drop_stream(self, after_chunks: int = 2, times: int = 1) -> None:
        """The next ``times`` streaming responses send ``after_chunks`` SSE events, then the connection is cut
        without ending the HTTP body (the client sees a protocol error)."""
        _check_times(times)
        if after_chunks < 0:
            raise ValueError("after_chunks must be >= 0")
        with self._lock:
            self._drops.append(_StreamPlan(times, after_chunks=after_chunks))

    def slow_stream(self, interval: float = 0.05, chunks: int = 2000, times: int = 1) -> None:
        """The next ``times`` streaming responses send ``chunks`` content chunks (filler words), one every
        ``interval`` seconds, then end normally. For clients that stop reading early."""
        _check_times(times)
        with self._lock:
            self._slows.append(_StreamPlan(times, interval=interval, chunks=chunks))

    def _add_fault(
        self,
        path: str,
        status: int,
        times: int,
        headers: Mapping[str, str] | None,
        body: Mapping[str, Any] | str | bytes | None,
        *,
        after_processing: bool,
    ) -> None:
        _check_times(times)
        fault = _Fault(_normalize_path(path), status, dict(headers or {}), body, times, after_processing)
        with self._lock:
            self._faults.append(fault)

    def _count(self, kind: str) -> None:
        """Count one injected fault (the caller holds the lock)."""
        self._served[kind] = self._served.get(kind, 0) + 1

    def _take_fault(self, path: str, *, after_processing: bool) -> _Fault | None:
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.until is None or f.until > now]
            for fault in self._faults:
                if fault.after_processing == after_processing and fnmatch.fnmatchcase(path, fault.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    self._count("fail_after_processing" if after_processing else "fail")
                    return fault
        return None

    def _take_delay(self, path: str) -> float:
        with self._lock:
            for delay in self._delays:
                if fnmatch.fnmatchcase(path, delay.path):
                    delay.remaining -= 1
                    if delay.remaining <= 0:
                        self._delays.remove(delay)
                    self._count("delay")
                    return delay.seconds
        return 0.0

    def _take_truncation(self, path: str) -> _Truncation | None:
        with self._lock:
            for plan in self._truncations:
                if fnmatch.fnmatchcase(path, plan.path):
                    plan.remaining -= 1
                    if plan.remaining <= 0:
                        self._truncations.remove(plan)
                    self._count("truncate_body")
                    return plan
        return None

    def _take_slow_read(self, path: str) -> float | None:
        with self._lock:
            for plan in self._slow_reads:
                if fnmatch.fnmatchcase(path, plan.path):
                    plan.remaining -= 1
                    if plan.remaining <= 0:
                        self._slow_reads.remove(plan)
                    self._count("slow_read")
                    return plan.bytes_per_second
        return None

    def _take_stream_mode(self) -> _StreamMode:
        mode = _StreamMode()
        with self._lock:
            if self._drops:
                plan = self._drops[0]
                mode.drop_after = plan.after_chunks
                self._count("drop_stream")
                plan.remaining -= 1
                if plan.remaining <= 0:
                    self._drops.pop(0)
            if self._slows:
                plan = self._slows[0]
                mode.interval = plan.interval
                mode.filler_chunks = plan.chunks
                self._count("slow_stream")
                plan.remaining -= 1
                if plan.remaining <= 0:
                    self._slows.pop(0)
        return mode

    def _note_stream_cancelled(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._streams_cancelled += 1

    def _note_stream_dropped(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._streams_dropped += 1

    # ---- request handling ------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        arrival = time.monotonic()
        rate = self._take_slow_read(request.url.path)
        complete = True
        if rate is None:
            body = await request.body()
        else:
            body, complete = await _read_slowly(request, rate)
        request_id = uuid.uuid4().hex
        parsed: Any = None
        if body:
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=headers,
            body=body,
            json=parsed,
            time=arrival,
            request_id=request_id,
        )
        with self._lock:
            generation = self._generation
            (self._requests if complete else self._abandoned).append(recorded)
        if not complete:  # the client is gone: nobody reads an answer
            return Response(status_code=400)

        seconds = self._take_delay(recorded.path)
        if seconds > 0:
            await _sleep_unless_disconnected(request, seconds)
        response = await self._answer(recorded, generation)
        response.headers["x-request-id"] = request_id
        return response

    async def _answer(self, req: RecordedRequest, generation: int) -> Response:
        fault = self._take_fault(req.path, after_processing=False)
        if fault is not None:
            return self._fault_response(fault)
        extra = self._extra_route(req)
        if extra is not None:
            spec, match = extra
            if spec.auth and not self._authorized(req):
                return self._error(401)
            handler: Handler | None = lambda r, g: spec.handler(self, r, g, match)  # noqa: E731
        else:
            if not self._authorized(req):
                return self._error(401)
            handler = self._route(req)
        if handler is None:
            return self._error(404, f"Not found: {req.method} {req.path}", code="not_found")
        try:
            response = await handler(req, generation)
        except _BadRequest as exc:
            return self._error(exc.status, exc.message, code=exc.code)
        except Exception as exc:  # a bug in the fake: answer like a server would, with the reason
            return self._error(500, f"fake {self.vendor} failed: {type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            fault = self._take_fault(req.path, after_processing=True)
            if fault is not None:
                return self._fault_response(fault)
            if not isinstance(response, StreamingResponse):
                cut = self._take_truncation(req.path)
                if cut is not None:
                    keep = int(len(response.body) * cut.keep)
                    return _CutResponse(response, keep, cut.close_connection)
        return response

    def _authorized(self, req: RecordedRequest) -> bool:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

    def _extra_route(self, req: RecordedRequest) -> tuple[RouteSpec, re.Match[str]] | None:
        for spec in type(self).routes:
            if spec.method == req.method:
                match = spec.pattern.fullmatch(req.path)
                if match is not None:
                    return spec, match
        return None

    def _route(self, req: RecordedRequest) -> Handler | None:
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/v1/models"): self._list_models,
            ("POST", "/v1/chat/completions"): self._chat_completions,
            ("POST", "/v1/completions"): self._completions,
        }
        return routes.get((req.method, req.path))

    def error_body(self, status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
        """The vendor's error JSON (OpenAI/Together shape here; a vendor subclass may change it)."""
        return _error_body(status, message, code)

    def _error(self, status: int, message: str | None = None, code: str | None = None) -> Response:
        return JSONResponse(self.error_body(status, message, code), status_code=status)

    def _fault_response(self, fault: _Fault) -> Response:
        if isinstance(fault.body, str | bytes):
            return Response(
                fault.body, status_code=fault.status, headers=fault.headers, media_type="text/plain"
            )
        body = dict(fault.body) if fault.body is not None else self.error_body(fault.status)
        return JSONResponse(body, status_code=fault.status, headers=fault.headers)

    def _json_object(self, req: RecordedRequest) -> dict[str, Any]:
        if not isinstance(req.json, dict):
            raise _BadRequest("The request body must be a JSON object", code="invalid_request_error")
        return req.json

    def _known_model(self, body: Mapping[str, Any]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("'model' is required and must be a string", code="invalid_request_error")
        if self.strict_models and all(entry.get("id") != model for entry in list(self.models)):
            raise _BadRequest(
                f"Unable to access model {model}. Please visit https://api.together.ai/models to view the "
                "list of supported models.",
                status=404,
                code="model_not_found",
            )
        return model

    # ---- endpoints -------------------------------------------------------------------------------

    async def _list_models(self, req: RecordedRequest, generation: int) -> Response:
        return JSONResponse(list(self.models))

    async def _chat_completions(self, req: RecordedRequest, generation: int) -> Response:
        body = self._json_object(req)
        model = self._known_model(body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise _BadRequest(
                "'messages' must be a non-empty list of message objects", code="invalid_request_error"
            )
        n = _optional_int(body, "n", 1, 128) or 1
        max_tokens = _optional_int(body, "max_tokens", 0)

        texts = [_content_text(m.get("content")) for m in messages]
        prompt_tokens = max(1, sum(_word_count(text) for text in texts))
        user_texts = [text for m, text in zip(messages, texts, strict=True) if m.get("role") == "user"]
        last_user = user_texts[-1] if user_texts else ""

        tool_call = self._tool_call(body, last_user)
        content: str | None
        if tool_call is not None:
            content = None
            finish_reason = "tool_calls"
            completion_tokens = _word_count(tool_call["function"]["arguments"])
        else:
            response_format = body.get("response_format")
            format_type = response_format.get("type") if isinstance(response_format, dict) else None
            if format_type in ("json_object", "json_schema"):
                content = json.dumps({"echo": last_user})
            else:
                content = "Echo: " + last_user
            content, truncated = _truncate_words(content, max_tokens)
            finish_reason = "length" if truncated else "stop"
            completion_tokens = _word_count(content)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = uuid.uuid4().hex
        created = int(time.time())

        if body.get("stream") is True:
            mode = self._take_stream_mode()
            events = self._chat_events(
                completion_id, created, model, n, content, tool_call, finish_reason, usage, mode
            )
            return _EventStream(self, generation, events, mode, _stream_headers())

        choices = []
        for index in range(n):
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if tool_call is not None:
                message["tool_calls"] = [dict(tool_call)]
            choices.append(
                {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}
            )
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "prompt": [],
                "choices": choices,
                "usage": usage,
            }
        )

    @staticmethod
    def _tool_call(body: Mapping[str, Any], last_user: str) -> dict[str, Any] | None:
        tools = body.get("tools")
        tool_choice = body.get("tool_choice")
        if not isinstance(tools, list) or not tools or tool_choice == "none":
            return None
        forced = tool_choice == "required" or isinstance(tool_choice, dict)
        if not forced and not _WEATHER.search(last_user):
            return None
        name = ""
        if isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
            name = str(tool_choice["function"].get("name") or "")
        if not name:
            first = tools[0] if isinstance(tools[0], dict) else {}
            function = first.get("function")
            name = str(function.get("name") or "") if isinstance(function, dict) else ""
        return {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps({"city": "Paris"})},
        }

    @staticmethod
    def _chat_events(
        completion_id: str,
        created: int,
        model: str,
        n: int,
        content: str | None,
        tool_call: dict[str, Any] | None,
        finish_reason: str,
        usage: dict[str, int],
        mode: _StreamMode,
    ) -> Iterator[bytes]:
        def chunk(index: int, delta: dict[str, Any], finish: str | None, chunk_usage: Any) -> bytes:
            return _sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
                    "usage": chunk_usage,
                }
            )

        if mode.filler_chunks is not None:
            words = [f"w{i} " for i in range(mode.filler_chunks)]
            usage = dict(
                usage, completion_tokens=len(words), total_tokens=usage["prompt_tokens"] + len(words)
            )
            tool_call, finish_reason = None, "stop"
        else:
            words = _WORD_PIECES.findall(content or "")
        for index in range(n):
            if tool_call is not None:
                yield chunk(
                    index, {"role": "assistant", "content": None, "tool_calls": [tool_call]}, None, None
                )
            else:
                for word in words:
                    yield chunk(index, {"role": "assistant", "content": word}, None, None)
        for index in range(n):
            last = index == n - 1
            yield chunk(index, {"role": "assistant", "content": ""}, finish_reason, usage if last else None)
        yield _sse("[DONE]")

    async def _completions(self, req: RecordedRequest, generation: int) -> Response:
        body = self._json_object(req)
        model = self._known_model(body)
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise _BadRequest("'prompt' is required and must be a string", code="invalid_request_error")
        n = _optional_int(body, "n", 1, 128) or 1
        max_tokens = _optional_int(body, "max_tokens", 0)
        text, truncated = _truncate_words(" echo: " + prompt, max_tokens)
        finish_reason = "length" if truncated else "stop"
        prompt_tokens = max(1, _word_count(prompt))
        completion_tokens = _word_count(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = uuid.uuid4().hex
        created = int(time.time())
        if body.get("stream") is True:
            mode = self._take_stream_mode()
            events = self._completion_events(completion_id, created, model, text, finish_reason, usage, mode)
            return _EventStream(self, generation, events, mode, _stream_headers())
        return JSONResponse(
            {
                "id": completion_id,
                "object": "text.completion",
                "created": created,
                "model": model,
                "prompt": [],
                "choices": [{"text": text, "index": i, "finish_reason": finish_reason} for i in range(n)],
                "usage": usage,
            }
        )

    @staticmethod
    def _completion_events(
        completion_id: str,
        created: int,
        model: str,
        text: str,
        finish_reason: str,
        usage: dict[str, int],
        mode: _StreamMode,
    ) -> Iterator[bytes]:
        def chunk(token_id: int, piece: str, finish: str | None, chunk_usage: Any) -> bytes:
            return _sse(
                {
                    "id": completion_id,
                    "object": "completion.chunk",
                    "created": created,
                    "model": model,
                    "token": {"id": token_id, "text": piece, "logprob": 0.0, "special": finish is not None},
                    "choices": [
                        {
                            "index": 0,
                            "text": piece,
                            "finish_reason": finish,
                            "delta": {"role": "assistant", "content": piece},
                        }
                    ],
                    "finish_reason": finish,
                    "usage": chunk_usage,
                }
            )

        if mode.filler_chunks is not None:
            pieces = [f" w{i}" for i in range(mode.filler_chunks)]
            usage = dict(
                usage, completion_tokens=len(pieces), total_tokens=usage["prompt_tokens"] + len(pieces)
            )
            finish_reason = "stop"
        else:
            pieces = _WORD_PIECES.findall(text)
        for token_id, piece in enumerate(pieces):
            yield chunk(token_id, piece, None, None)
        yield chunk(len(pieces), "", finish_reason, usage)
        yield _sse("[DONE]")


async def _read_slowly(request: Request, bytes_per_second: float) -> tuple[bytes, bool]:
    """The request body read at ``bytes_per_second``, and whether all of it arrived (False: the client went
    away first)."""
    chunks: list[bytes] = []
    received = 0
    start = time.monotonic()
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        received += len(chunk)
        ahead = start + received / bytes_per_second - time.monotonic()
        if message.get("more_body", False):
            if ahead > 0:
                await asyncio.sleep(ahead)  # a client leaving meanwhile shows at the next read
            continue
        # uvicorn may have buffered the whole body before the first read: the pace still takes its time,
        # and a client that leaves meanwhile is noticed
        left = await _sleep_unless_disconnected(request, max(ahead, 0.01))
        return b"".join(chunks), not left


async def _sleep_unless_disconnected(request: Request, seconds: float) -> bool:
    """Sleep, but stop early if the client goes away (so that no task outlives a client that gave up); whether
    it went away. Only once the request body was read."""

    async def disconnect() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    waiter = asyncio.create_task(disconnect())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return bool(done)


def _stream_headers() -> dict[str, str]:
    return {"cache-control": "no-cache"}


class FakeTogether(FakeServer):
    """A fake Together AI API server: chat, completions and models here; the other areas
    (``fake_together/<area>.py``) add their routes with :func:`route`."""

    vendor = "Together"


ROUTES = FakeTogether.routes
"""The routes the area modules added to :class:`FakeTogether`."""
