"""Downloads of finished results (videos, weights) to files, written atomically.

Result URLs are presigned and may live on any host, so they are fetched with a plain
client that carries no provider key. A file appears under its name only once complete
(``<name>.part`` first, removed on failure).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from polyface._version import __version__
from polyface.errors import PolyfaceError, ProviderError
from polyface.providers._base.errors import error_class, transport_error
from polyface.providers._base.secrets import redact

CHUNK = 1 << 20


def target_path(path: str | os.PathLike[str], default_name: str) -> Path:
    """``path`` as a file path: a folder gets ``default_name`` inside it; parents are created."""
    target = Path(os.fspath(path)).expanduser()
    if target.is_dir():
        target = target / default_name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _client_options(timeout: float) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        "follow_redirects": True,
        "headers": {"User-Agent": f"polyface/{__version__}"},
    }


def _where(url: str) -> str:
    """A URL safe to show: scheme and host only (presigned queries hold signatures)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path[:60]}"


def _check_url(url: str, provider: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise PolyfaceError(f"{provider} gave a download URL polyface cannot fetch ({_where(url)!r}).")


def _error(response: httpx.Response, provider: str, what: str, hint: str | None) -> ProviderError:
    body = redact(response.text[:300].strip()) or response.reason_phrase
    return error_class(response.status_code, None)(
        f"downloading {what} from {_where(str(response.url))} failed: {body}",
        provider=provider,
        status=response.status_code,
        hint=hint,
    )


def write_atomically(chunks: Iterator[bytes], target: Path) -> Path:
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


async def awrite_atomically(chunks: AsyncIterator[bytes], target: Path) -> Path:
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            async for chunk in chunks:
                out.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def download_url(
    url: str,
    target: Path,
    *,
    provider: str,
    what: str = "the result",
    timeout: float = 600.0,
    hint: str | None = None,
) -> Path:
    """Fetch ``url`` (no provider key sent) into ``target``."""
    _check_url(url, provider)
    try:
        with httpx.Client(**_client_options(timeout)) as client, client.stream("GET", url) as response:
            if response.status_code >= 400:
                response.read()
                raise _error(response, provider, what, hint)
            return write_atomically(response.iter_bytes(CHUNK), target)
    except httpx.TransportError as exc:
        raise transport_error(exc, provider=provider) from None


async def adownload_url(
    url: str,
    target: Path,
    *,
    provider: str,
    what: str = "the result",
    timeout: float = 600.0,
    hint: str | None = None,
) -> Path:
    _check_url(url, provider)
    try:
        async with (
            httpx.AsyncClient(**_client_options(timeout)) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                await response.aread()
                raise _error(response, provider, what, hint)
            return await awrite_atomically(response.aiter_bytes(CHUNK), target)
    except httpx.TransportError as exc:
        raise transport_error(exc, provider=provider) from None
