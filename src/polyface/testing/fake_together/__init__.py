"""A local fake of the Together AI REST API, for tests, demos and benchmarks.

``core`` holds the server, request recording, fault injection, chat, completions and
fine-tunes; each other module adds the routes of one area (``@route(...)``). Importing
this package registers them all. Standalone: nothing here imports polyface itself.
"""

from __future__ import annotations

from polyface.testing.fake_together import (  # noqa: F401  (each module registers its routes)
    audio,
    embeddings,
    files,
    fine_tunes,
    images,
    videos,
)
from polyface.testing.fake_together.core import (
    DEFAULT_API_KEY,
    ERROR_DEFAULTS,
    ROUTES,
    FakeServer,
    FakeTogether,
    RecordedRequest,
    RouteSpec,
    default_models,
    route,
)

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
