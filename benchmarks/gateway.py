"""Load test of the OpenAI-compatible gateway: N concurrent chats through ``polyface serve``'s ``/v1``
against calling the provider fake directly, in one run.

Three processes: the Together fake (pinned to CPU 0), the polyface server (uvicorn, a Studio on a temp
SQLite database with ``providers={"together": TogetherAdapter(<the fake>)}`` and a gateway key; on its
own core when the machine has three, else sharing the fake's), and this client (httpx async, pinned to
CPU 1). Rounds alternate: the same chat body straight to the fake (the baseline), then to the gateway
as ``together/<model>``. Each request carries its own tag, which the fake echoes back, so every answer
is checked against its own request: 200, a ``chat.completion`` naming the model asked for, the echo.

Prints throughput and p50/p99 latency of both, the ratios gateway / direct, and the failed (an answer
that is not 200 with that body) and lost (no answer, or not received exactly once by the provider)
requests, which must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any

import httpx

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
GATEWAY_MODEL = f"together/{MODEL}"
PROMPT = "Say hi like an action hero."

FAKE = """
import os, sys
cpu = int(sys.argv[1])
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
from polyface.testing.fake_together import FakeTogether
fake = FakeTogether()
fake.start()
print(fake.base_url, fake.api_key, flush=True)
for line in sys.stdin:  # "count": how many chats the fake has received
    chats = sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/chat/completions"))
    print(chats, flush=True)
fake.stop()
"""

GATEWAY = """
import os, socket, sys, tempfile, threading
base_url, fake_key, cpu, keep_alive = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
import uvicorn
from polyface import TogetherAdapter
from polyface.persona.studio import Studio
from polyface.server.app import create_app
from polyface.server.auth import create_key
from polyface.server.settings import ServerSettings

folder = tempfile.mkdtemp(prefix="polyface-gateway-bench-")
together = TogetherAdapter(api_key=fake_key, base_url=base_url)
studio = Studio(f"sqlite:///{folder}/bench.db", data_dir=f"{folder}/data", providers={"together": together})
_, key = create_key(studio, "bench")
app = create_app(studio, ServerSettings(redis_url=None, rate_limit_rpm=None))
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
# as `polyface serve` runs it (uvicorn's defaults), without the access log
config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=keep_alive)
server = uvicorn.Server(config)
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
thread.start()
print(sock.getsockname()[1], key, flush=True)
sys.stdin.read()
server.should_exit = True
thread.join(timeout=10)
studio.close()
"""


class Child:
    """A helper process that prints one line when it is ready and stops when its stdin closes."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ready = self._stdout.readline().split()
        if not self.ready:
            raise RuntimeError(f"a helper process did not start (exit status {self.proc.wait(timeout=10)})")

    @property
    def _stdin(self) -> IO[str]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def _stdout(self) -> IO[str]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def ask(self, line: str) -> str:
        self._stdin.write(line + "\n")
        self._stdin.flush()
        return self._stdout.readline().strip()

    def stop(self) -> None:
        self._stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Side:
    """What one side (direct or gateway) measured over its rounds."""

    name: str
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    no_answer: int = 0
    upstream: int = 0
    """Chats the provider fake received while this side ran."""
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """No answer, or never received by the provider (the larger), plus any received twice."""
        return max(self.no_answer, self.sent - self.upstream) + max(0, self.upstream - self.sent)

    @property
    def rps(self) -> float:
        return statistics.median(self.rates)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


Call = Callable[[int], Awaitable[str | None]]
"""One chat, tagged with its number: None when it was answered as expected, else what went wrong."""


def chat_call(client: httpx.AsyncClient, url: str, model: str) -> Call:
    async def call(tag: int) -> str | None:
        prompt = f"{PROMPT} #{tag}"
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        response = await client.post(url, json=body)  # transport errors: no answer (lost)
        if response.status_code != 200:
            return f"status {response.status_code}: {response.text[:200]}"
        try:
            data = response.json()
            content = data["choices"][0]["message"]["content"]
            ok = data["object"] == "chat.completion" and data["model"] == model
            ok = ok and content == f"Echo: {prompt}" and data["usage"]["completion_tokens"] > 0
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return f"unreadable body ({type(exc).__name__}): {response.text[:200]}"
        return None if ok else f"wrong answer: {response.text[:200]}"

    return call


async def run_round(side: Side | None, call: Call, total: int, concurrency: int) -> None:
    """``total`` chats, ``concurrency`` in flight; recorded in ``side`` (None: a warm-up)."""
    tags = iter(range(total))
    latencies: list[float] = []
    failures: list[str] = []
    no_answer = 0

    async def worker() -> None:
        nonlocal no_answer
        for tag in tags:
            start = time.perf_counter()
            try:
                problem = await call(tag)
            except httpx.HTTPError as exc:
                no_answer += 1
                when = time.perf_counter() - began
                failures.append(f"no answer after {when:.2f} s of the round: {type(exc).__name__}: {exc!r}")
                continue
            latencies.append(time.perf_counter() - start)
            if problem is not None:
                failures.append(problem)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    if side is None:
        return
    side.rates.append(total / elapsed)
    side.latencies += latencies
    side.sent += total
    side.no_answer += no_answer
    side.failed += len(failures) - no_answer
    side.problems += failures[:3]


async def bench(args: argparse.Namespace, fake: Child, gateway_url: str, key: str) -> tuple[Side, Side]:
    base_url, fake_key = fake.ready
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    timeout = httpx.Timeout(120.0)
    direct_client = httpx.AsyncClient(
        headers={"Authorization": f"Bearer {fake_key}"}, limits=limits, timeout=timeout
    )
    gateway_client = httpx.AsyncClient(
        headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=timeout
    )
    direct = Side("direct")
    gateway = Side("gateway")
    calls: list[tuple[Side, Call]] = [
        (direct, chat_call(direct_client, f"{base_url}/chat/completions", MODEL)),
        (gateway, chat_call(gateway_client, f"{gateway_url}/v1/chat/completions", GATEWAY_MODEL)),
    ]
    try:
        for _, call in calls:  # warm up: connections, the server's first calls, the provider's catalog
            await run_round(None, call, args.concurrency * 2, args.concurrency)
        for _ in range(args.rounds):
            for side, call in calls:
                before = int(fake.ask("count"))
                await run_round(side, call, args.requests, args.concurrency)
                side.upstream += int(fake.ask("count")) - before
    finally:
        await direct_client.aclose()
        await gateway_client.aclose()
    return direct, gateway


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=64, help="chats in flight (default 64)")
    parser.add_argument("--requests", type=int, default=2000, help="chats per round and side (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side, alternating (default 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 256 chats per side")
    parser.add_argument(
        "--gateway-cpu",
        type=int,
        default=None,
        help="the core the server is pinned to (default: 2 when there are three, else 0, the fake's)",
    )
    parser.add_argument(
        "--server-keep-alive",
        type=int,
        default=30,
        help="seconds the server keeps an idle connection (default 30, as `polyface serve`; uvicorn's is 5)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = min(args.requests, 256), 1

    cpus = os.cpu_count() or 1
    pin = hasattr(os, "sched_setaffinity") and cpus > 1
    fake_cpu, client_cpu = (0, 1) if pin else (-1, -1)
    gateway_cpu = args.gateway_cpu if args.gateway_cpu is not None else (2 if cpus > 2 else 0)
    if not pin:
        gateway_cpu = -1
    if client_cpu >= 0:
        os.sched_setaffinity(0, {client_cpu})

    fake = Child(FAKE, str(fake_cpu))
    try:
        server = Child(GATEWAY, fake.ready[0], fake.ready[1], str(gateway_cpu), str(args.server_keep_alive))
        try:
            port, key = server.ready
            direct, gateway = asyncio.run(bench(args, fake, f"http://127.0.0.1:{port}", key))
        finally:
            server.stop()
    finally:
        fake.stop()

    where = f"fake CPU {fake_cpu}, gateway CPU {gateway_cpu}, client CPU {client_cpu}" if pin else "unpinned"
    print(
        f"gateway chats ({GATEWAY_MODEL}) vs the provider fake directly: {args.concurrency} in flight, "
        f"{args.rounds} x {args.requests} chats per side ({where})"
    )
    g_rps, d_rps = gateway.rps, direct.rps
    print(
        f"  throughput   gateway/direct {g_rps / d_rps:.3f}x   "
        f"(gateway {g_rps:.0f} chats/s, direct {d_rps:.0f} chats/s)"
    )
    for q in (50, 99):
        g, d = gateway.percentile(q), direct.percentile(q)
        ms = f"(gateway {g * 1e3:.1f} ms, direct {d * 1e3:.1f} ms)"
        print(f"  p{q} latency  gateway/direct {g / d:.3f}x   {ms}")
    for side in (direct, gateway):
        counts = f"(sent {side.sent}, provider got {side.upstream})"
        print(f"  {side.name:<8} failed {side.failed}  lost {side.lost}  {counts}")
        for problem in side.problems:
            print(f"    e.g. {problem}")
    print(f"failed requests: {direct.failed + gateway.failed}")
    print(f"lost requests: {direct.lost + gateway.lost}")
    if args.json:
        results: dict[str, Any] = {
            side.name: {
                "rps": side.rps,
                "p50_ms": side.percentile(50) * 1e3,
                "p99_ms": side.percentile(99) * 1e3,
                "sent": side.sent,
                "failed": side.failed,
                "lost": side.lost,
            }
            for side in (direct, gateway)
        }
        print(json.dumps(results, indent=2))
    if direct.failed + gateway.failed + direct.lost + gateway.lost:
        sys.exit(1)


if __name__ == "__main__":
    main()
