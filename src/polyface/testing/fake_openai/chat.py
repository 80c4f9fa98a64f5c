"""Fake OpenAI routes: chat, registered with ``@route(..., server=FakeOpenAI)``."""

from __future__ import annotations
