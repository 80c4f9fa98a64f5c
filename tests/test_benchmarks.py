"""The benchmark scripts run and print ratios (a small run, so they cannot rot unnoticed)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_overhead_benchmark_prints_ratios() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "overhead.py"),
            "--requests",
            "20",
            "--rounds",
            "1",
            "--async-requests",
            "64",
            "--concurrency",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ratios = [float(x) for x in re.findall(r"([0-9.]+)x ", proc.stdout)]
    assert len(ratios) == 4, proc.stdout
    # a smoke run is noisy; the real measurement is the full run (see the closing notes / docs)
    assert all(0.3 < r < 3.0 for r in ratios), proc.stdout


@pytest.mark.slow
def test_local_benchmark_prints_every_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "local.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    ratios = [float(x) for x in re.findall(r"([0-9.]+)x ", proc.stdout)]
    assert len(ratios) == 3, proc.stdout  # llama.cpp, transformers, LoRA against their bare baselines
    assert all(0.3 < r < 3.0 for r in ratios), proc.stdout
    factors = [float(x) for x in re.findall(r"real-time factor ([0-9.]+)", proc.stdout)]
    assert len(factors) == 3 and all(f < 2.0 for f in factors), proc.stdout


def test_gateway_load_test_prints_ratios_with_no_failed_or_lost_request() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gateway.py"), "--quick"],  # 64 in flight
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ratios = [float(x) for x in re.findall(r"gateway/direct ([0-9.]+)x ", proc.stdout)]
    assert len(ratios) == 3, proc.stdout  # throughput, p50 and p99 latency
    assert all(0.01 < r < 100.0 for r in ratios), proc.stdout  # a smoke run is noisy: they exist and are sane
    assert "failed requests: 0\n" in proc.stdout and "lost requests: 0\n" in proc.stdout, proc.stdout
    assert re.search(r"gateway +failed 0 +lost 0 +\(sent 256, provider got 256\)", proc.stdout), proc.stdout


PEER_LINES = [
    "sync request, sequential: time per request",
    "async, 64 in flight: time per request",
    "async, 256 in flight: time per request",
    "async, 8 in flight right after a 64-wide burst: time per request",
    "stream, sync: time to first token",
    "stream, async: time to first token",
    "stream, sync: new TCP connections per 100 streams",
    "stream, async: new TCP connections per 100 streams",
    "cold import (what one call needs), fresh process",
    "cold import + client + first call, fresh process",
    "memory (RSS) after import",
    "memory (RSS) after 500 requests",
    "memory growth from 100 to 500 requests",
]


def test_peer_benchmark_quick_run_prints_and_writes_its_table(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- peers:begin -->\nold table\n<!-- peers:end -->\n\n## After\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--quick", "--write", str(doc)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in proc.stdout.splitlines()]
    rows = [row for row in rows if len(row) > 1 and not row[0].startswith("---")]
    header, lines = rows[0], {row[0]: row[1:] for row in rows[1:]}
    assert header == [
        "line",
        "bare httpx (floor)",
        "polyface",
        "openai",
        "litellm",
        "polyface <= 1.15x and ahead",
    ]
    assert list(lines) == PEER_LINES, proc.stdout
    assert all(len(cells) == 5 for cells in lines.values()), proc.stdout
    litellm = importlib.util.find_spec("litellm") is not None
    for title, (floor, polyface, openai, peer, goal) in lines.items():
        assert goal in ("yes", "**no**"), title
        assert (peer != "not installed") == litellm and "failed" not in (floor, polyface, openai, peer), title
        if "connections" in title:
            # deterministic: polyface's streams (and the floor's, read to the end) reuse their connection
            assert floor == polyface == "0", (title, proc.stdout)
        elif "growth" in title:
            assert re.fullmatch(r"[+-]\d+\.\d MB", polyface), title
        else:
            assert re.fullmatch(r"1\.00x \([0-9.]+ (µs|ms|req/s|MB)\)", floor), (title, floor)
            ratio = float(re.fullmatch(r"([0-9.]+)x", polyface)[1])  # type: ignore[index]
            assert 0.01 < ratio < 100, (
                title,
                ratio,
            )  # a smoke run on a busy machine: sane, not a measurement
    written = doc.read_text()
    assert written.startswith("# Benchmarks\n\n<!-- peers:begin -->\nMeasured ") and written.endswith(
        "<!-- peers:end -->\n\n## After\n"
    )
    assert "old table" not in written and "| stream, sync: time to first token |" in written
