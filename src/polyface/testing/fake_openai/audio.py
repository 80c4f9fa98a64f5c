"""Fake OpenAI routes: audio, registered with ``@route(..., server=FakeOpenAI)``."""

from __future__ import annotations
