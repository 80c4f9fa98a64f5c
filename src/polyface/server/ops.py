"""Operations: ``GET /healthz`` (the database answers) and ``GET /metrics`` (Prometheus text).

Metrics live in a registry of their own per app (never prometheus_client's global one), so several
apps in one process (tests) count apart:

- ``polyface_http_requests_total{route,method,status}`` and ``polyface_http_request_seconds{route,method}``:
  every request, by its route's path template (``/v1/chat/completions``; ``unmatched`` for 404s);
- ``polyface_http_errors_total{route,status}``: answers with status 400 and up, and unhandled exceptions
  (status ``500``);
- ``polyface_gateway_tokens_total{model,kind}`` (``kind``: input or output) and
  ``polyface_gateway_cost_usd_total{model}``: what gateway calls used, by the model the client named.

Access: ``/healthz`` is always open (it tells only ok or unavailable). ``/metrics`` is open on loopback;
on a host other machines can reach it needs a gateway key (``Authorization: Bearer pf-...``) unless
``ServerSettings.metrics_public`` (``POLYFACE_METRICS_PUBLIC=1``) says it may be served openly.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from polyface.types.usage import Usage

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The app's counters and histograms, in their own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "polyface_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "polyface_http_request_seconds",
            "Time to answer a request (the whole body, for streams), by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "polyface_http_errors",
            "Requests answered with an error status (400 and up), by route template and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "polyface_gateway_tokens",
            "Tokens used by gateway calls, by the model the client named and kind (input, output).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "polyface_gateway_cost_usd",
            "USD spent by gateway calls (where the provider's price is known), by model.",
            ["model"],
            registry=self.registry,
        )

    def record_usage(self, model: str, usage: Usage | None, cost: float | None) -> None:
        """Count a gateway call's tokens and cost under ``model`` (as the client named it)."""
        if usage is not None:
            if usage.input_tokens:
                self.tokens.labels(model=model, kind="input").inc(usage.input_tokens)
            if usage.output_tokens:
                self.tokens.labels(model=model, kind="output").inc(usage.output_tokens)
        if cost:
            self.cost.labels(model=model).inc(cost)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def metrics_of(app: Any) -> Metrics:
    """The app's :class:`Metrics` (made on first use)."""
    state = app.state
    metrics = getattr(state, "metrics", None)
    if metrics is None:
        metrics = state.metrics = Metrics()
    return metrics


def _route(scope: Scope) -> str:
    """The matched route's full path template. FastAPI keeps an included router's routes with their own
    paths (``/personas/{name}``), so the include prefix is taken back from the request's path: the
    template's segments are the path's last ones."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    actual = [p for p in str(scope.get("path", "")).split("/") if p]
    template = [p for p in path.split("/") if p]
    if len(actual) > len(template) and not any(":path}" in p for p in template):
        return "/" + "/".join(actual[: len(actual) - len(template)] + template)
    return path


class MetricsMiddleware:
    """Counts every HTTP request by route template and status, and times it to the end of its body."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route, method = _route(scope), str(scope.get("method", ""))
            self.metrics.requests.labels(route=route, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=route, method=method).observe(time.perf_counter() - started)
            if status >= 400:
                self.metrics.errors.labels(route=route, status=str(status)).inc()


def _database_ok(app: FastAPI) -> str | None:
    """None when the database answers, else why not (no secret: the URL's password is hidden)."""
    from sqlalchemy import text

    from polyface.persona.db import safe_url
    from polyface.providers._base.secrets import redact

    studio = app.state.studio
    try:
        with studio.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        why = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
        logging.getLogger("polyface.server").warning(
            "healthz: the database %s does not answer: %s", safe_url(studio.db.url), why
        )
        return "the database does not answer (details in the server log)"
    return None


async def healthz(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    problem = await run_in_threadpool(_database_ok, request.app)
    if problem is not None:
        return JSONResponse(
            {"status": "unavailable", "error": {"code": "database_unavailable", "message": problem}},
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


async def _metrics_refused(request: Request) -> Response | None:
    """On a non-loopback host (unless ``metrics_public``), ``/metrics`` takes a gateway key: its counters
    name the models, routes and spend. A 401 without a valid one (rate limits do not apply to scrapes)."""
    from starlette.concurrency import run_in_threadpool

    from polyface.server.auth import verify_key
    from polyface.server.settings import is_loopback

    settings = request.app.state.settings
    if is_loopback(settings.host) or settings.metrics_public:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if token and await run_in_threadpool(verify_key, request.app.state.studio, token) is not None:
        return None
    return JSONResponse(
        {
            "error": {
                "code": "invalid_api_key",
                "message": "/metrics on a server reachable from other machines needs a gateway key: send "
                "'Authorization: Bearer pf-...' (Prometheus: authorization.credentials), or set "
                "POLYFACE_METRICS_PUBLIC=1 to serve it openly.",
            }
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def metrics(request: Request) -> Response:
    refused = await _metrics_refused(request)
    if refused is not None:
        return refused
    return Response(metrics_of(request.app).text(), media_type=CONTENT_TYPE_LATEST)


def register(app: FastAPI) -> None:
    app.add_middleware(MetricsMiddleware, metrics=metrics_of(app))
    app.add_api_route(
        "/healthz", healthz, methods=["GET"], tags=["ops"], summary="Health: the database answers"
    )
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["ops"], summary="Prometheus metrics")
