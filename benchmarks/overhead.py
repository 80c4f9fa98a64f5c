"""Per-request overhead of polyface vs a bare httpx POST of the same body, in one run.

The Together fake runs in its own process pinned to CPU 0; this client is pinned to CPU 1 (when the
machine has two): see ``_fake.py``. Sync: rounds alternate between the two clients and the median
per-request time of each is compared. Async: 64 requests in flight, throughput compared. Prints ratios
(polyface / httpx); 1.00 means no overhead. ``peers.py`` compares polyface with its peers too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from _fake import FakeProcess, pin_client
from polyface import TogetherAdapter

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "Say hi like an action hero."}]
BODY = {"model": MODEL, "messages": MESSAGES}


def sync_round(fn: Any, n: int) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) per request."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


def bench_sync(base_url: str, key: str, n: int, rounds: int) -> dict[str, float]:
    bare = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"})
    together = TogetherAdapter(api_key=key, base_url=base_url)

    def bare_call() -> Any:
        response = bare.post("/chat/completions", json=BODY)
        response.raise_for_status()
        return response.json()

    def polyface_call() -> Any:
        return together.text.generate(model=MODEL, messages=MESSAGES)

    for fn in (bare_call, polyface_call):  # warm up (connections, catalog)
        sync_round(fn, 50)
    bare_t: list[tuple[float, float]] = []
    poly_t: list[tuple[float, float]] = []
    for _ in range(rounds):
        bare_t.append(sync_round(bare_call, n))
        poly_t.append(sync_round(polyface_call, n))
    bare.close()
    together.close()
    b, p = statistics.median(t[0] for t in bare_t), statistics.median(t[0] for t in poly_t)
    bc, pc = statistics.median(t[1] for t in bare_t), statistics.median(t[1] for t in poly_t)
    return {
        "bare_us": b * 1e6,
        "polyface_us": p * 1e6,
        "ratio": p / b,
        "bare_cpu_us": bc * 1e6,
        "polyface_cpu_us": pc * 1e6,
        "cpu_ratio": pc / bc,
    }


async def async_run(fn: Any, total: int, concurrency: int) -> tuple[float, float]:
    """(requests per second, client CPU seconds per request)."""
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            await fn()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start), (time.process_time() - cpu) / total


async def bench_async(base_url: str, key: str, total: int, concurrency: int, rounds: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    bare = httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, limits=limits)
    together = TogetherAdapter(api_key=key, base_url=base_url)

    async def bare_call() -> Any:
        response = await bare.post("/chat/completions", json=BODY)
        response.raise_for_status()
        return response.json()

    async def polyface_call() -> Any:
        return await together.text.agenerate(model=MODEL, messages=MESSAGES)

    for fn in (bare_call, polyface_call):
        await async_run(fn, concurrency * 4, concurrency)
    bare_r: list[tuple[float, float]] = []
    poly_r: list[tuple[float, float]] = []
    for _ in range(rounds):
        bare_r.append(await async_run(bare_call, total, concurrency))
        poly_r.append(await async_run(polyface_call, total, concurrency))
    await bare.aclose()
    await together.aclose()
    b, p = statistics.median(t[0] for t in bare_r), statistics.median(t[0] for t in poly_r)
    bc, pc = statistics.median(t[1] for t in bare_r), statistics.median(t[1] for t in poly_r)
    return {
        "bare_rps": b,
        "polyface_rps": p,
        "ratio": b / p,
        "bare_cpu_us": bc * 1e6,
        "polyface_cpu_us": pc * 1e6,
        "cpu_ratio": pc / bc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="sync requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--async-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    pin_client()
    with FakeProcess() as fake:
        sync = bench_sync(fake.base_url, fake.api_key, args.requests, args.rounds)
        asyn = asyncio.run(
            bench_async(fake.base_url, fake.api_key, args.async_requests, args.concurrency, args.rounds)
        )
    print("polyface TogetherAdapter.text.generate vs bare httpx POST (same body, same fake, one run)")
    label = f"async {args.concurrency} in flight"
    for name, row in (("sync sequential", sync), (label, asyn)):
        print(
            f"  {name:<18} wall time per request {row['ratio']:.3f}x   "
            f"client CPU per request {row['cpu_ratio']:.3f}x   (goal <= 1.15x)"
        )
    if args.json:
        print(json.dumps({"sync": sync, "async": asyn}, indent=2))


if __name__ == "__main__":
    main()
