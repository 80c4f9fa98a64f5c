"""Server settings (from arguments, else environment variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


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
    """Gateway requests need a bearer key issued by `polyface keys create`."""
