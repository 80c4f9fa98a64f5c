"""Server settings (from arguments, else environment variables)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class ServerSettings:
    host: str = field(default_factory=lambda: os.environ.get("POLYFACE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("POLYFACE_PORT", "8000")))
    max_upload_bytes: int = 500 * 1024 * 1024
    """The largest sample upload accepted (per file); the media checks apply their own lower limits."""
    rate_limit_rpm: float | None = None
    """Requests per minute per gateway key (None: no limit)."""
    redis_url: str | None = field(default_factory=lambda: os.environ.get("POLYFACE_REDIS_URL"))
    require_keys: bool = True
    """Gateway requests need a bearer key issued by `polyface keys create`. A server on a non-loopback
    address cannot be made without it (``create_app`` refuses)."""
    metrics_public: bool = field(default_factory=lambda: _flag("POLYFACE_METRICS_PUBLIC"))
    """``/metrics`` answers without a key on a non-loopback address (env ``POLYFACE_METRICS_PUBLIC=1``):
    for a scraper on a private network that cannot send ``Authorization: Bearer pf-...``. On loopback
    ``/metrics`` is always open; ``/healthz`` is always open (it says only ok or unavailable)."""
