"""A local fake of the Anthropic REST API (on the shared :class:`FakeServer`), for tests and demos.

``core`` holds the server class; ``messages`` (Messages, count_tokens, models) and ``batches`` (Message
Batches) add their routes with ``@route(..., server=FakeAnthropic)``. Importing this package registers them.
"""

from __future__ import annotations

from polyface.testing.fake_anthropic import (  # noqa: F401  (each module registers its routes)
    batches,
    messages,
)
from polyface.testing.fake_anthropic.core import FakeAnthropic

__all__ = ["FakeAnthropic"]
