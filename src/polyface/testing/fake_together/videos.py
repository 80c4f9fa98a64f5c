"""Fake Together routes: videos. Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
