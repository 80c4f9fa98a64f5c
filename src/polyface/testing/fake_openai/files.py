"""Fake OpenAI routes: files, registered with ``@route(..., server=FakeOpenAI)``."""

from __future__ import annotations
