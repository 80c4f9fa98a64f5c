"""What every local capability shares at run time: models loaded once per process, offline settings,
and running blocking work from async code.

Loaded models are process-wide (two ``LocalAdapter`` instances share one SmolLM2), built once even when
many threads ask at once, and reused. Nothing here touches a network: the Hugging Face libraries are
told to stay offline before they are first imported.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_loaded: dict[tuple[Any, ...], Any] = {}
_loading: dict[tuple[Any, ...], threading.Lock] = {}
_guard = threading.Lock()


def offline() -> None:
    """Tell the Hugging Face libraries never to reach the network (call before importing them)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a job whose process died will never finish)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shared(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """The object cached under ``key``, built by ``build()`` the first time (once, whatever the threads)."""
    try:
        return _loaded[key]  # type: ignore[no-any-return]
    except KeyError:
        pass
    with _guard:
        lock = _loading.setdefault(key, threading.Lock())
    with lock:
        if key not in _loaded:
            _loaded[key] = build()
    return _loaded[key]  # type: ignore[no-any-return]


def forget(prefix: tuple[Any, ...]) -> None:
    """Drop every cached object whose key starts with ``prefix`` (a model that was deleted, say)."""
    with _guard:
        for key in [k for k in _loaded if k[: len(prefix)] == prefix]:
            _loaded.pop(key, None)


async def to_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking model work off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


def torch_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch (set once; later calls with another number are ignored)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


_DONE = object()


async def aiterate(produce: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Iterate a blocking iterator from async code: it runs in a worker thread, items cross over as they
    come, and leaving the ``async for`` early stops the worker at its next item."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
    stop = threading.Event()

    def work() -> None:
        try:
            iterator = produce()
            try:
                for item in iterator:
                    if stop.is_set():
                        break
                    asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:
            if not stop.is_set():
                asyncio.run_coroutine_threadsafe(queue.put(_Raised(exc)), loop).result()
            return
        if not stop.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop).result()

    worker = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        while not queue.empty():  # let a worker blocked on a full queue see the stop flag
            queue.get_nowait()
        await worker


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
