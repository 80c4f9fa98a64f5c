"""The shared engine's configuration: one per provider instance (the seed's BaseConfig).

Holds the credentials (resolved once, never printed), the base URL, timeouts, retry
policy, the rate limiter, the catalog and the telemetry. Every capability of a
provider receives the same ``ProviderConfig`` and reaches the network only through
``config.http``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from polyface.errors import ConfigurationError, MissingCredentials, ProviderError
from polyface.providers._base.ratelimit import RateLimit, RateLimiter
from polyface.providers._base.retry import RetryPolicy
from polyface.providers._base.secrets import Secret, redact
from polyface.providers._base.telemetry import Telemetry

if TYPE_CHECKING:
    import httpx

    from polyface.providers._base.catalog import Catalog
    from polyface.providers._base.http import HttpEngine
    from polyface.types.models import ModelInfo, Pricing

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Static facts about a provider."""

    name: str
    display_name: str
    default_base_url: str
    api_key_env: str | None
    base_url_env: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    request_id_headers: tuple[str, ...] = ("x-request-id", "request-id")
    models_path: str = "/models"
    api_key_optional: bool = False
    """A server that may run without a key (a local vLLM, Ollama...): no key means no auth header."""


def _read_dotenv(path: Path | None, name: str) -> str | None:
    from dotenv import dotenv_values, find_dotenv

    if path is None:
        found = find_dotenv(usecwd=True)
        if not found:
            return None
        path = Path(found)
    if not path.is_file():
        return None
    value = dotenv_values(path).get(name)
    return value or None


def _check_key(value: str, provider: str, source: str) -> None:
    """Refuse a key an HTTP header cannot carry (a line break, a control or non-ASCII character): sent, it
    would fail with the key's text in the HTTP library's error. The message never shows the key."""
    for position, char in enumerate(value):
        if not "!" <= char <= "~" and char != " ":
            if char in "\r\n":
                what = "a line break"
            elif ord(char) < 32 or ord(char) == 127:
                what = "a control character"
            else:
                what = "a non-ASCII character"
            raise ConfigurationError(
                f"the {provider} API key from {source} has {what} at position {position + 1} of "
                f"{len(value)}, which no API key has: copy the key again (only the key, on one line)."
            )


class ProviderConfig:
    """Everything one provider instance shares between its capabilities.

    Subclasses set ``info`` and implement :meth:`parse_models` (and, where the vendor
    is unusual, :meth:`parse_error`).
    """

    info: ClassVar[ProviderInfo]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int = 2,
        rate_limit: RateLimit | None = None,
        redis_url: str | None = None,
        catalog_ttl: float = 3600.0,
        pricing: dict[str, Pricing] | None = None,
        headers: dict[str, str] | None = None,
        dotenv_path: str | Path | None = None,
        max_connections: int = 512,
    ) -> None:
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more (got {max_retries}).")
        self._explicit_key = Secret(api_key) if api_key else None
        self._dotenv_path = Path(dotenv_path) if dotenv_path else None
        self._key: Secret | None = None
        self._key_lock = threading.Lock()
        env_url = os.environ.get(self.info.base_url_env) if self.info.base_url_env else None
        self.base_url = (base_url or env_url or self.info.default_base_url).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"{self.info.display_name} base URL {self.base_url!r} is not an http(s) URL; "
                f"pass base_url='https://...' or fix {self.info.base_url_env or 'base_url'}."
            )
        self.read_timeout = DEFAULT_READ_TIMEOUT if timeout is None else float(timeout)
        self.connect_timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else float(connect_timeout)
        self.retry = RetryPolicy(max_retries=max_retries)
        self.max_connections = max_connections
        self.extra_headers = dict(headers or {})
        self.limiter = RateLimiter(
            rate_limit,
            key=f"{self.info.name}:{parts.netloc}",
            redis_url=redis_url or os.environ.get("POLYFACE_REDIS_URL") if rate_limit else None,
        )
        self.catalog_ttl = catalog_ttl
        self._pricing_overrides = dict(pricing or {})
        self.telemetry = Telemetry(self.info.name, parts.hostname, parts.port)

    # ---- credentials -------------------------------------------------------------
    @property
    def provider(self) -> str:
        return self.info.name

    def api_key(self) -> Secret | None:
        """The key: explicit argument, else the environment variable, else ``.env``.

        Resolved once. Raises :class:`MissingCredentials` naming the variable to set.
        """
        if self._key is not None:
            return self._key
        env = self.info.api_key_env
        with self._key_lock:
            if self._key is None:
                value = self._explicit_key.reveal() if self._explicit_key else None
                source = "the api_key argument"
                if env is not None and not value:
                    value, source = os.environ.get(env), f"the {env} environment variable"
                    if not value:
                        value, source = _read_dotenv(self._dotenv_path, env), f"{env} in the .env file"
                if not value:
                    if env is None or self.info.api_key_optional:
                        return None
                    raise MissingCredentials(self.info.display_name, env)
                value = value.strip()
                _check_key(value, self.info.display_name, source)
                self._key = Secret(value)
        return self._key

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key()
        if key is None:
            return {}
        scheme = f"{self.info.auth_scheme} " if self.info.auth_scheme else ""
        return {self.info.auth_header: scheme + key.reveal()}

    # ---- shared parts, built on first use ------------------------------------------
    @cached_property
    def http(self) -> HttpEngine:
        from polyface.providers._base.http import HttpEngine

        return HttpEngine(self)

    @cached_property
    def catalog(self) -> Catalog:
        from polyface.providers._base.catalog import Catalog, load_price_table

        return Catalog(
            provider=self.info.name,
            fetch=self.fetch_models,
            afetch=self.afetch_models,
            ttl=self.catalog_ttl,
            overrides=self._pricing_overrides,
            price_table=load_price_table(self.info.name),
        )

    def fetch_models(self) -> list[ModelInfo]:
        return self.parse_models(self.http.request("GET", self.info.models_path).json())

    async def afetch_models(self) -> list[ModelInfo]:
        response = await self.http.arequest("GET", self.info.models_path)
        return self.parse_models(response.json())

    # ---- vendor specifics -------------------------------------------------------------
    def parse_models(self, data: Any) -> list[ModelInfo]:
        raise NotImplementedError

    def parse_error(self, body: Any, text: str) -> tuple[str, str | None]:
        """(message, code) from an error body. Handles OpenAI/Together and Anthropic shapes."""
        if isinstance(body, dict):
            err = body.get("error", body)
            if isinstance(err, dict):
                message = err.get("message") or err.get("detail") or text
                code = err.get("code") or err.get("type")
                return str(message), str(code) if code is not None else None
            if isinstance(err, str):
                return err, None
        return (text.strip() or "no error message"), None

    def error_from_response(self, response: httpx.Response, *, hint: str | None = None) -> ProviderError:
        from polyface.providers._base.errors import error_class
        from polyface.providers._base.retry import parse_retry_after

        text = response.text[:2000]
        try:
            body = response.json()
        except ValueError:
            body = None
        message, code = self.parse_error(body, text)
        request_id = next(
            (response.headers[h] for h in self.info.request_id_headers if h in response.headers), None
        )
        cls = error_class(response.status_code, code)
        return cls(
            redact(message),
            provider=self.info.display_name,
            status=response.status_code,
            code=code,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers),
            hint=hint,
        )

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()

    async def aclose(self) -> None:
        if "http" in self.__dict__:
            await self.http.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=***)"
