"""The benchmarks' provider: the Together fake in its own process, pinned to CPU 0 (the client goes on CPU 1).

The fake counts the TCP connections it accepted (a uvicorn protocol subclass), so that a benchmark can
tell a client that reuses its connections from one that opens a new one per request. The parent talks to
the fake's process over its stdin/stdout, one line per command: ``stats`` (JSON back), ``reset``, EOF stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import TracebackType
from typing import Any, Self

SERVER = r"""
import importlib.util, json, os, sys
if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
    os.sched_setaffinity(0, {0})
from polyface.testing.fake_together import FakeTogether

# the fastest server stack installed, so that the client's own cost shows
fast = bool(importlib.util.find_spec("httptools") and importlib.util.find_spec("uvloop"))
if fast:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
else:
    from uvicorn.protocols.http.h11_impl import H11Protocol as Base
accepted = 0

class Counting(Base):
    def connection_made(self, transport):
        global accepted
        accepted += 1
        super().connection_made(transport)

fake = FakeTogether(http=Counting, loop="uvloop" if fast else "asyncio")
fake.start()
print(fake.base_url, fake.api_key, "httptools+uvloop" if fast else "h11+asyncio", flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "stats":
        print(json.dumps({"connections": accepted, "requests": len(fake.requests)}), flush=True)
    elif command == "reset":
        accepted = 0
        fake.reset()
        print("{}", flush=True)
fake.stop()
"""


def pin_client() -> None:
    """Run this process on CPU 1 (the fake has CPU 0), where the machine has two CPUs."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


class FakeProcess:
    """``with FakeProcess() as fake:`` the Together fake at ``fake.base_url`` with ``fake.api_key``."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError("the Together fake did not start (see its output above)")
        self.base_url, self.api_key, self.stack = line.split()

    def _command(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def stats(self) -> dict[str, int]:
        """Since the last reset: ``connections`` (TCP connections accepted), ``requests`` (received)."""
        return self._command("stats")

    def reset(self) -> None:
        """Zero the counters and drop the fake's recorded requests (so that its memory stays flat)."""
        self._command("reset")

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
