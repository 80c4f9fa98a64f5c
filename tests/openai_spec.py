"""OpenAI's spec, for the fake OpenAI server's traffic (see ``spec_check.py`` for how checks work)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from polyface.testing.fake_together import RecordedRequest
from spec_check import VendorSpec

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"

_ARRAY_PART = re.compile(rb'(\r\nContent-Disposition: form-data; name="[A-Za-z0-9_]+)\[\]"', re.IGNORECASE)


@dataclasses.dataclass
class OpenAIVendorSpec(VendorSpec):
    """OpenAI sends arrays in multipart forms as repeated ``name[]`` parts (its own curl examples:
    ``-F "image[]=@a.png"``, ``-F "timestamp_granularities[]=word"``; the official SDKs do the same), while
    the spec names the property ``name``. spec_check reads part names literally, so they are mapped back
    here before the form is checked (and a one-element ``name[]``, which spec_check reads as a scalar, is
    not reported as "not of type 'array'")."""

    def form_problems(self, req: RecordedRequest) -> list[str]:
        arrays = {m.group(1).rsplit(b'"', 1)[-1].decode() for m in _ARRAY_PART.finditer(b"\r\n" + req.body)}
        body = _ARRAY_PART.sub(rb'\1"', b"\r\n" + req.body)[2:]
        problems = super().form_problems(dataclasses.replace(req, body=body))
        return [
            p
            for p in problems
            if not any(f"at $.{name}: " in p and "is not of type 'array'" in p for name in arrays)
        ]


OPENAI = OpenAIVendorSpec(
    name="OpenAI",
    path=Path(os.environ.get("OPENAI_OPENAPI_SPEC") or SPECS / "openai-openapi.json"),
    host="https://api.openai.com",
    # listPaginatedFineTuningJobs (GET /fine_tuning/jobs) is documented too, but its `metadata` query
    # parameter has `type: [object, null]`, on which openapi-core crashes (TypeError) for any request.
    undocumented_requests=(
        ("GET", r"/v1/fine_tuning/jobs"),
    ),
)
