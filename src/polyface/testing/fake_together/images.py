"""Fake Together routes: images. Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
