"""Fake Together routes: audio. Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
