"""Anthropic's spec, for the fake Anthropic server's traffic (see ``spec_check.py`` for how checks work)."""

from __future__ import annotations

import os
from pathlib import Path

from spec_check import VendorSpec

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"

ANTHROPIC = VendorSpec(
    name="Anthropic",
    path=Path(os.environ.get("ANTHROPIC_OPENAPI_SPEC") or SPECS / "anthropic-openapi.json"),
    host="https://api.anthropic.com",
    prefix="",
    form_auth="x-api-key",
)
