"""A local fake of the OpenAI REST API (on the shared :class:`FakeServer`), for tests and demos.

``core`` holds the server class; each other module adds the routes of one area with
``@route(..., server=FakeOpenAI)``. Importing this package registers them all.
"""

from __future__ import annotations

from polyface.testing.fake_openai import (  # noqa: F401  (each module registers its routes)
    audio,
    chat,
    files,
    fine_tuning,
    images,
)
from polyface.testing.fake_openai.core import FakeOpenAI

__all__ = ["FakeOpenAI"]
