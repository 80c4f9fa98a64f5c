"""Fake Together routes: embeddings. Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
