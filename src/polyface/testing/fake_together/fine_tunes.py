"""Fake Together routes: fine_tunes (the full fine-tuning API). Registered with ``@route(...)`` from ``core``."""

from __future__ import annotations
