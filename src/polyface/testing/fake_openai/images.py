"""Fake OpenAI routes: images, registered with ``@route(..., server=FakeOpenAI)``."""

from __future__ import annotations
