"""The benchmark scripts run and print ratios (a small run, so they cannot rot unnoticed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
