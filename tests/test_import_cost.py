"""`import polyface` stays cheap; importing what a request needs costs little beyond httpx + pydantic."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def _best_ms(statement: str, runs: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    return min(float(_run(code)) for _ in range(runs))


def test_import_polyface_imports_nothing_heavy() -> None:
    out = _run(
        "import sys, polyface; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('httpx', 'pydantic', 'opentelemetry', 'typer', 'rich', 'redis', 'typing')))"
    )
    assert out.strip() == "[]"


def test_import_polyface_own_time_is_under_30_ms() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import polyface"],
        capture_output=True,
        text=True,
        check=True,
    )
    own_us = 0
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip().startswith("polyface"):
            own_us += int(parts[0].split(":")[1])
    assert 0 < own_us < 30_000, own_us


def test_adapter_import_is_cheap_relative_to_httpx_and_pydantic() -> None:
    # pydantic's package import is lazy: its machinery loads with the first model class, so the
    # baseline is importing httpx and pydantic and defining one model.
    baseline = _best_ms("import httpx; from pydantic import BaseModel; type('M', (BaseModel,), {})", runs=7)
    adapter = _best_ms("from polyface import TogetherAdapter", runs=7)
    ready = _best_ms(
        "from polyface import TogetherAdapter; import polyface.providers._base.http; "
        "TogetherAdapter(api_key='k').text",
        runs=7,
    )
    print(f"httpx+pydantic {baseline:.1f} ms; TogetherAdapter {adapter:.1f} ms; ready to send {ready:.1f} ms")
    # The adapter itself loads neither httpx nor pydantic, so it costs less than they do ...
    assert adapter / baseline < 1.0
    # ... and everything a first request needs adds at most half again on top of them (measured ~1.25x:
    # mostly pydantic building the schemas of polyface's models).
    assert ready / baseline < 1.5


def test_no_opentelemetry_import_without_an_sdk_provider() -> None:
    out = _run(
        "import sys; from polyface import TogetherAdapter; t = TogetherAdapter(api_key='k'); "
        "import polyface.providers._base.telemetry as tm; "
        "print(tm._otel_tracer(), tm._otel_metrics(), 'opentelemetry' in sys.modules)"
    )
    assert out.split() == ["None", "None", "False"]
