"""Fake Together routes: fine-tunes (the full fine-tuning API), registered with ``@route(...)``."""

from __future__ import annotations
