"""The benchmark scripts run and print ratios (a small run, so they cannot rot unnoticed)."""

from __future__ import annotations

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
