"""``local``: where its files live, which text engine it uses, and its catalog (nothing is fetched).

The data folder (``data_dir=``, else ``POLYFACE_HOME``, else the user's data folder from platformdirs)
holds everything a user trains: ``local/models/<id>/`` and ``local/jobs/<id>.json``. The cache folder
(``cache_dir=``, else ``POLYFACE_CACHE_DIR``, else ``<data>/cache``) holds what can be rebuilt from the
shipped models, e.g. the safetensors copy of SmolLM2 that transformers loads in half a second.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from polyface.errors import ConfigurationError
from polyface.providers._base.config import ProviderConfig, ProviderInfo
from polyface.providers._base.telemetry import Telemetry

if TYPE_CHECKING:
    from polyface.providers._base.catalog import Catalog
    from polyface.providers.local.jobs import LocalJobs
    from polyface.providers.local.store import LocalStore
    from polyface.types.models import ModelInfo

LOCAL = ProviderInfo(
    name="local",
    display_name="local",
    default_base_url="local://cpu",
    api_key_env=None,
    api_key_optional=True,
)

TextEngine = Literal["auto", "llama.cpp", "transformers"]
TEXT_ENGINES: tuple[str, ...] = ("auto", "llama.cpp", "transformers")


def default_data_dir() -> Path:
    """``POLYFACE_HOME``, else the user's data folder (``~/.local/share/polyface`` on Linux)."""
    env = os.environ.get("POLYFACE_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("polyface", appauthor=False))


class LocalConfig(ProviderConfig):
    """The offline provider's settings. Nothing here reaches a network."""

    info = LOCAL

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        engine: TextEngine = "auto",
        threads: int | None = None,
        dtype: Literal["bfloat16", "float32"] = "bfloat16",
        **ignored: Any,
    ) -> None:
        if api_key:
            raise ConfigurationError("the local provider needs no API key; drop api_key=.")
        if base_url:
            raise ConfigurationError("the local provider runs in this process; drop base_url=.")
        unknown = sorted(set(ignored) - {"timeout", "connect_timeout", "max_retries", "rate_limit"})
        if unknown:
            raise ConfigurationError(
                f"LocalAdapter got unknown option(s) {', '.join(unknown)}; it takes data_dir, cache_dir, "
                "engine, threads and dtype."
            )
        if engine not in TEXT_ENGINES:
            raise ConfigurationError(f"engine must be one of {', '.join(TEXT_ENGINES)} (got {engine!r}).")
        if dtype not in ("bfloat16", "float32"):
            raise ConfigurationError(f"dtype must be 'bfloat16' or 'float32' (got {dtype!r}).")
        if threads is not None and threads < 1:
            raise ConfigurationError(f"threads must be 1 or more (got {threads}).")
        self.base_url = LOCAL.default_base_url
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        env_cache = os.environ.get("POLYFACE_CACHE_DIR")
        self.cache_dir = (
            Path(cache_dir).expanduser()
            if cache_dir
            else Path(env_cache).expanduser()
            if env_cache
            else self.data_dir / "cache"
        )
        self.engine: TextEngine = engine
        self.threads = threads or max(
            1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        )
        self.dtype = dtype
        self.catalog_ttl = 0.0
        self._pricing_overrides = {}
        self.telemetry = Telemetry(LOCAL.name, None, None)

    # ---- what the local provider shares between capabilities --------------------------------
    @cached_property
    def store(self) -> LocalStore:
        from polyface.providers.local.store import LocalStore

        return LocalStore(self.data_dir / "local")

    @cached_property
    def jobs(self) -> LocalJobs:
        from polyface.providers.local.jobs import LocalJobs
        from polyface.providers.local.runtime import shared

        # one registry per data folder per process: every LocalAdapter on it sees the same live jobs
        return shared(("jobs", str(self.store.root.resolve())), lambda: LocalJobs(self.store))

    @cached_property
    def catalog(self) -> Catalog:
        from polyface.providers._base.catalog import Catalog

        return Catalog(provider=LOCAL.name, fetch=self.fetch_models, afetch=self.afetch_models, ttl=0.0)

    def fetch_models(self) -> list[ModelInfo]:
        return self.store.models()

    async def afetch_models(self) -> list[ModelInfo]:
        return self.store.models()

    def api_key(self) -> None:
        return None

    def auth_headers(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"LocalConfig(data_dir={str(self.data_dir)!r}, engine={self.engine!r})"
