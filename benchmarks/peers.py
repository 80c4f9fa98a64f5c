"""polyface against its peers: the same chat workload, in one run, through a bare httpx client (the
floor), polyface, the official ``openai`` package and LiteLLM, against the local Together fake.

The fake runs in its own process pinned to CPU 0; the clients run here, pinned to CPU 1. Every line is
reported as a ratio to the floor (lower is better; 1.00x = the floor's cost): time per request (sync,
sequential; async at 64 and 256 in flight; async at 8 in flight right after a 64-wide burst), streaming
time to the first token, cold import, memory after import and after many requests. Absolute numbers
appear only beside the floor's 1.00x. Peers that are not installed show as "not installed".

Run: ``scripts/bench`` (a venv with the peers; rewrites the table in docs/benchmarks.md), or
``python benchmarks/peers.py [--quick] [--write docs/benchmarks.md]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from _clients import CLIENTS, EXPECTED, Client
from _fake import FakeProcess, pin_client

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
GOAL = 1.15


@dataclass
class Counts:
    """How much of each measurement a run does (``--quick``: a smoke run)."""

    sync_requests: int = 300
    rounds: int = 5
    async_rounds: int = 3
    async_requests: int = 768
    burst_then: int = 400
    streams: int = 100
    import_runs: int = 3
    memory_first: int = 10_000
    memory_total: int = 100_000
    warmup: int = 50


QUICK = Counts(
    sync_requests=20,
    rounds=1,
    async_rounds=1,
    async_requests=0,  # as many as the concurrency
    burst_then=32,
    streams=10,
    import_runs=1,
    memory_first=100,
    memory_total=500,
    warmup=5,
)


@dataclass
class Line:
    title: str
    kind: str  # "time" | "rate" | "mb": lower cost is better, shown as a ratio; "count" | "growth": absolute
    values: dict[str, float | None] = field(default_factory=dict)
    """Per client; None: not measured (not installed, or it failed: see ``errors``)."""
    errors: dict[str, str] = field(default_factory=dict)

    def cost(self, name: str) -> float | None:
        """The client's cost relative to the floor (None when either is missing)."""
        value, floor = self.values.get(name), self.values.get("floor")
        if value is None or floor is None or self.kind in ("count", "growth"):
            return None
        if self.kind == "rate":
            return floor / value
        return value / floor


# ---- measuring ----------------------------------------------------------------------------------------


def _guard(line: Line, client: type[Client], measure: Callable[[], float]) -> None:
    """Measure one client's value; a peer's failure is reported, the floor's or polyface's raised."""
    try:
        line.values[client.name] = measure()
    except Exception as exc:
        if client.name in ("floor", "polyface"):
            raise
        line.values[client.name] = None
        line.errors[client.name] = f"{type(exc).__name__}: {str(exc)[:160]}"


def sync_lines(fake: FakeProcess, clients: list[type[Client]], counts: Counts) -> list[Line]:
    per_request = Line("sync request, sequential: time per request", "time")
    ttft = Line("stream, sync: time to first token", "time")
    reused = Line("stream, sync: new TCP connections per 100 streams", "count")
    made: dict[str, Client] = {}
    for cls in clients:
        try:
            client = cls(fake.base_url, fake.api_key)
            for _ in range(counts.warmup):
                assert client.call() == EXPECTED
                client.stream()
            made[cls.name] = client
        except Exception as exc:
            if cls.name in ("floor", "polyface"):
                raise
            for line in (per_request, ttft, reused):
                line.errors[cls.name] = f"{type(exc).__name__}: {str(exc)[:160]}"
    times: dict[str, list[float]] = {name: [] for name in made}
    firsts: dict[str, list[float]] = {name: [] for name in made}
    opened: dict[str, int] = dict.fromkeys(made, 0)
    for _ in range(counts.rounds):  # rounds alternate between the clients, so drifts hit all alike
        for name, client in made.items():
            start = time.perf_counter()
            for _ in range(counts.sync_requests):
                client.call()
            times[name].append((time.perf_counter() - start) / counts.sync_requests)
            fake.reset()
            firsts[name].extend(client.stream() for _ in range(counts.streams))
            opened[name] += fake.stats()["connections"]
    for name, client in made.items():
        per_request.values[name] = statistics.median(times[name])
        ttft.values[name] = statistics.median(firsts[name])
        reused.values[name] = 100 * opened[name] / (counts.streams * counts.rounds)
        client.close()
    return [per_request, ttft, reused]


async def _run(fn: Callable[[], Awaitable[Any]], total: int, concurrency: int) -> float:
    """Requests per second with ``concurrency`` requests in flight until ``total`` are done."""
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            await fn()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start)


async def _started(cls: type[Client], fake: FakeProcess) -> Client:
    client = cls(fake.base_url, fake.api_key)
    await client.astart()
    assert await client.acall() == EXPECTED
    return client


async def async_throughput(
    fake: FakeProcess, clients: list[type[Client]], concurrency: int, counts: Counts
) -> Line:
    """Steady throughput at ``concurrency`` in flight (the fresh clients first take one burst to warm up)."""
    line = Line(f"async, {concurrency} in flight: time per request", "rate")
    total = counts.async_requests or concurrency
    made: dict[str, Client] = {}
    for cls in clients:

        async def warm(cls: type[Client] = cls) -> float:
            client = made[cls.name] = await _started(cls, fake)
            return await _run(client.acall, min(total, 2 * concurrency), concurrency)

        await _aguard(line, cls, warm)
    rates: dict[str, list[float]] = {name: [] for name in made}
    for _ in range(counts.async_rounds):
        for name, client in made.items():
            rates[name].append(await _run(client.acall, total, concurrency))
    for name, client in made.items():
        line.values[name] = statistics.median(rates[name])
        await client.aclose()
    fake.reset()
    return line


async def burst_then_steady(fake: FakeProcess, clients: list[type[Client]], counts: Counts) -> Line:
    """8 in flight right after a 64-wide burst, on a fresh client each round (httpcore's async pool
    slows down while it holds the burst's idle connections: encode/httpcore#1035)."""
    line = Line("async, 8 in flight right after a 64-wide burst: time per request", "rate")
    rates: dict[str, list[float]] = {cls.name: [] for cls in clients}
    for _ in range(counts.async_rounds):
        for cls in clients:

            async def measure(cls: type[Client] = cls) -> float:
                client = await _started(cls, fake)
                try:
                    await _run(client.acall, 4 * 64, 64)
                    return await _run(client.acall, counts.burst_then, 8)
                finally:
                    await client.aclose()

            await _aguard(line, cls, measure)
            if line.values.get(cls.name) is not None:
                rates[cls.name].append(line.values[cls.name])  # type: ignore[arg-type]
        fake.reset()
    for name, values in rates.items():
        line.values[name] = statistics.median(values) if values else None
    return line


async def async_streams(fake: FakeProcess, clients: list[type[Client]], counts: Counts) -> list[Line]:
    ttft = Line("stream, async: time to first token", "time")
    reused = Line("stream, async: new TCP connections per 100 streams", "count")
    for cls in clients:

        async def measure(cls: type[Client] = cls) -> float:
            client = await _started(cls, fake)
            try:
                await client.astream()
                fake.reset()
                firsts = [await client.astream() for _ in range(counts.streams * counts.rounds)]
                reused.values[cls.name] = 100 * fake.stats()["connections"] / len(firsts)
                return statistics.median(firsts)
            finally:
                await client.aclose()

        await _aguard(ttft, cls, measure)
        if cls.name in ttft.errors:
            reused.errors[cls.name] = ttft.errors[cls.name]
    return [ttft, reused]


async def _aguard(line: Line, client: type[Client], measure: Callable[[], Awaitable[float]]) -> None:
    try:
        line.values[client.name] = await measure()
    except Exception as exc:
        if client.name in ("floor", "polyface"):
            raise
        line.values[client.name] = None
        line.errors[client.name] = f"{type(exc).__name__}: {str(exc)[:160]}"


MEMORY_TIMEOUT = 450.0
"""Seconds a memory probe may take (LiteLLM's is the longest: ~2 ms a request on a quiet machine)."""


def _probe(*args: str, timeout: float = 120.0) -> dict[str, float]:
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_probes.py"), *args], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        # (said without the command line, which holds the fake's key)
        raise RuntimeError(f"the {args[0]} probe did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "probe failed")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def import_lines(fake: FakeProcess, clients: list[type[Client]], counts: Counts) -> list[Line]:
    cold = Line("cold import (what one call needs), fresh process", "time")
    first = Line("cold import + client + first call, fresh process", "time")
    rss = Line("memory (RSS) after import", "mb")
    runs: dict[str, list[dict[str, float]]] = {cls.name: [] for cls in clients}
    for _ in range(counts.import_runs):
        for cls in clients:
            if cls.name not in cold.errors:
                _guard(
                    cold, cls, lambda cls=cls: _append(runs[cls.name], _probe("import", cls.name, *_at(fake)))
                )
    for cls in clients:
        if cls.name in cold.errors:
            first.errors[cls.name] = rss.errors[cls.name] = cold.errors[cls.name]
            continue
        cold.values[cls.name] = statistics.median(r["import_s"] for r in runs[cls.name])
        first.values[cls.name] = statistics.median(r["first_call_s"] for r in runs[cls.name])
        rss.values[cls.name] = statistics.median(r["rss_mb"] for r in runs[cls.name])
    fake.reset()
    return [cold, first, rss]


def memory_lines(fake: FakeProcess, clients: list[type[Client]], counts: Counts) -> list[Line]:
    """RSS after many sequential requests, one process per client; the processes run side by side and
    unpinned (memory does not depend on speed, and this is the longest part of a run)."""
    after = Line(f"memory (RSS) after {counts.memory_total:,} requests", "mb")
    growth = Line(f"memory growth from {counts.memory_first:,} to {counts.memory_total:,} requests", "growth")
    fake.reset()
    args = [str(counts.memory_first), str(counts.memory_total)]
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = {
            cls: pool.submit(_probe, "memory", cls.name, *_at(fake), *args, timeout=MEMORY_TIMEOUT)
            for cls in clients
        }
    for cls, future in futures.items():
        result: dict[str, float] = {}

        def measure(future: Future[dict[str, float]] = future, result: dict[str, float] = result) -> float:
            result.update(future.result())
            return result["rss_total_mb"]

        _guard(after, cls, measure)
        if result:
            growth.values[cls.name] = result["rss_total_mb"] - result["rss_first_mb"]
        else:
            growth.errors[cls.name] = after.errors.get(cls.name, "failed")
    fake.reset()
    return [after, growth]


def _timed(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    start = time.perf_counter()
    result = fn(*args)
    print(f"  {what}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return result


def _at(fake: FakeProcess) -> tuple[str, str]:
    return fake.base_url, fake.api_key


def _append(runs: list[dict[str, float]], result: dict[str, float]) -> float:
    runs.append(result)
    return result["import_s"]


# ---- reporting ------------------------------------------------------------------------------------------


def _absolute(line: Line, value: float) -> str:
    if line.kind == "time":
        return f"{value * 1e3:.1f} ms" if value >= 0.01 else f"{value * 1e6:.0f} µs"
    if line.kind == "rate":
        return f"{value:.0f} req/s"
    if line.kind in ("mb", "growth"):
        return f"{value:+.1f} MB" if line.kind == "growth" else f"{value:.0f} MB"
    return f"{value:.0f}"


def _cell(line: Line, name: str, installed: bool) -> str:
    if not installed:
        return "not installed"
    if name in line.errors:
        return "failed"
    value = line.values.get(name)
    if value is None:
        return "failed"
    if line.kind in ("count", "growth"):
        return _absolute(line, value)
    cost = line.cost(name)
    if name == "floor":
        return f"1.00x ({_absolute(line, value)})"
    return f"{cost:.2f}x" if cost is not None else "failed"


def _goal(line: Line, peers: list[str]) -> str:
    mine = line.values.get("polyface")
    if mine is None:
        return "no"
    others = [line.values[p] for p in peers if line.values.get(p) is not None]
    if line.kind == "count":
        ok = mine <= (line.values.get("floor") or 0) + 1 and all(mine <= v for v in others)  # type: ignore[operator]
    elif line.kind == "growth":
        ok = mine <= 1.0
    else:
        cost = line.cost("polyface")
        costs = [line.cost(p) for p in peers]
        ok = cost is not None and cost <= GOAL and all(cost < c for c in costs if c is not None)
    return "yes" if ok else "**no**"


def table(lines: list[Line], clients: list[type[Client]], installed: dict[str, bool]) -> str:
    peers = [c.name for c in clients if c.name not in ("floor", "polyface") and installed[c.name]]
    head = "| line | " + " | ".join(c.label for c in clients) + f" | polyface <= {GOAL}x and ahead |"
    rows = [head, "|---" * (len(clients) + 2) + "|"]
    for line in lines:
        cells = [_cell(line, c.name, installed[c.name]) for c in clients]
        rows.append(f"| {line.title} | " + " | ".join(cells) + f" | {_goal(line, peers)} |")
    return "\n".join(rows)


def environment(clients: list[type[Client]], installed: dict[str, bool], fake: FakeProcess) -> str:
    versions = ", ".join(
        f"{c.module} {c.version()}" if installed[c.name] else f"{c.module} not installed" for c in clients
    )
    try:
        from importlib.metadata import version

        aiohttp = f", aiohttp {version('aiohttp')}"
    except Exception:
        aiohttp = ""
    return (
        f"{date.today().isoformat()}, Python {platform.python_version()}, {platform.machine()}; "
        f"{versions}{aiohttp}; fake server stack {fake.stack}"
    )


def write_doc(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} markers to write the results between")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts, same lines")
    parser.add_argument("--write", type=Path, help="put the table in this markdown file, between the markers")
    parser.add_argument("--json", action="store_true", help="print the raw values as JSON too")
    parser.add_argument("--memory-requests", type=int, help="requests of the memory line (default 100,000)")
    args = parser.parse_args()
    counts = QUICK if args.quick else Counts()
    if args.memory_requests:
        counts.memory_total = args.memory_requests
        counts.memory_first = min(counts.memory_first, args.memory_requests // 10)
    pin_client()
    installed = {c.name: c.installed() for c in CLIENTS}
    clients = [c for c in CLIENTS if installed[c.name]]
    started = time.perf_counter()
    with FakeProcess() as fake:
        per_request, sync_ttft, sync_reuse = _timed(
            "sync requests and streams", sync_lines, fake, clients, counts
        )
        throughput = [
            _timed(
                f"async {c} in flight", lambda c=c: asyncio.run(async_throughput(fake, clients, c, counts))
            )
            for c in (64, 256)
        ]
        burst = _timed(
            "async burst then steady", lambda: asyncio.run(burst_then_steady(fake, clients, counts))
        )
        async_ttft, async_reuse = _timed(
            "async streams", lambda: asyncio.run(async_streams(fake, clients, counts))
        )
        imports = _timed("cold imports", import_lines, fake, clients, counts)
        memory = _timed("memory", memory_lines, fake, clients, counts)
        env = environment(CLIENTS, installed, fake)
    lines = [
        per_request,
        *throughput,
        burst,
        sync_ttft,
        async_ttft,
        sync_reuse,
        async_reuse,
        *imports,
        *memory,
    ]
    run = "quick smoke run (small counts: not a measurement)" if args.quick else "full run"
    block = "\n".join(
        [
            f"Measured {env}; {run}, {time.perf_counter() - started:.0f} s.",
            "",
            "Each cell: the client's cost as a ratio to the floor's (lower is better; the floor's own cell",
            "gives its absolute value). Connection and memory-growth lines are absolute.",
            "",
            table(lines, CLIENTS, installed),
        ]
    )
    failures = [f"- {line.title}: {name}: {error}" for line in lines for name, error in line.errors.items()]
    if failures:
        block += "\n\nFailed measurements:\n" + "\n".join(failures)
    print(block)
    if args.json:
        print(json.dumps({line.title: line.values for line in lines}, indent=2))
    if args.write:
        write_doc(args.write, block)
        print(f"\nwrote the table to {args.write}")


if __name__ == "__main__":
    main()
