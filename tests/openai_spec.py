"""OpenAI's spec, for the fake OpenAI server's traffic (see ``spec_check.py`` for how checks work)."""

from __future__ import annotations

import os
from pathlib import Path

from spec_check import VendorSpec

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"

OPENAI = VendorSpec(
    name="OpenAI",
    path=Path(os.environ.get("OPENAI_OPENAPI_SPEC") or SPECS / "openai-openapi.json"),
    host="https://api.openai.com",
)
