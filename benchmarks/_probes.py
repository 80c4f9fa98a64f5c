"""Measurements that need a fresh process per client: cold import, and memory over many requests.

Run by ``peers.py`` as ``python _probes.py import|memory CLIENT BASE_URL API_KEY [N1 N2]``; prints one JSON
line. Nothing but the standard library is imported before the timed import.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc; elsewhere the peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def probe_import(name: str, base_url: str, key: str) -> dict[str, float]:
    from _clients import BY_NAME, EXPECTED

    cls = BY_NAME[name]
    start = time.perf_counter()
    exec(cls.import_code, {})
    imported = time.perf_counter()
    rss = rss_mb()
    client = cls(base_url, key)
    assert client.call() == EXPECTED
    called = time.perf_counter()
    return {"import_s": imported - start, "first_call_s": called - start, "rss_mb": rss}


def probe_memory(name: str, base_url: str, key: str, first: int, total: int) -> dict[str, float]:
    from _clients import BY_NAME, EXPECTED

    client = BY_NAME[name](base_url, key)
    assert client.call() == EXPECTED
    start = time.perf_counter()
    for _ in range(first):
        client.call()
    gc.collect()
    at_first = rss_mb()
    for _ in range(total - first):
        client.call()
    gc.collect()
    at_total = rss_mb()
    return {
        "rss_first_mb": at_first,
        "rss_total_mb": at_total,
        "seconds_per_request": (time.perf_counter() - start) / total,
    }


def main() -> None:
    kind, name, base_url, key = sys.argv[1:5]
    if kind == "memory" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))  # memory, not time: the probes share the CPUs
    if kind == "import":
        result = probe_import(name, base_url, key)
    else:
        result = probe_memory(name, base_url, key, int(sys.argv[5]), int(sys.argv[6]))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
