"""Fake Together routes: files. Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
