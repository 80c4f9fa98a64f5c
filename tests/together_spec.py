"""Together's spec, for the fake Together server's traffic (see ``spec_check.py`` for how checks work).

Together really uses a few things its spec does not show: the upload flow (POST /v1/files answers 302 to a
presigned URL, served by the fake under /presigned/; the bytes are PUT there; then
POST /v1/files/{id}/preprocess).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from polyface.testing.fake_together import RecordedRequest
from spec_check import LoadedSpec, VendorSpec

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"
SPEC_PATH = Path(os.environ.get("TOGETHER_OPENAPI_SPEC") or SPECS / "together-openapi.yaml")
#: Together's real host; the fake's ``/v1/...`` paths are checked as ``https://api.together.ai/v1/...``.
SPEC_HOST = "https://api.together.ai"
UNDOCUMENTED_PATHS_ALLOWED: tuple[str, ...] = (r"/presigned/.*", r"/v1/files/[^/]+/preprocess")
#: POST /v1/files starts the upload flow (the spec only lists GET /files).
UNDOCUMENTED_REQUESTS_ALLOWED: tuple[tuple[str, str], ...] = (("POST", r"/v1/files"),)
#: None today: the video operations carry their own `servers: [https://api.together.ai/v2]`, so
#: /v2/videos validates as written.
VERSION_ALIASES: tuple[tuple[str, str], ...] = ()

TOGETHER = VendorSpec(
    name="Together",
    path=SPEC_PATH,
    host=SPEC_HOST,
    undocumented_paths=UNDOCUMENTED_PATHS_ALLOWED,
    undocumented_requests=UNDOCUMENTED_REQUESTS_ALLOWED,
    aliases=VERSION_ALIASES,
)


def together_spec() -> LoadedSpec:
    """The parsed, repaired and built spec (cached for the process)."""
    return TOGETHER.loaded


def together_request_problems(req: RecordedRequest) -> list[str]:
    return TOGETHER.request_problems(req)


def validate_together_request(req: RecordedRequest) -> None:
    TOGETHER.validate_request(req)


def together_requests_problems(requests: Iterable[RecordedRequest]) -> list[str]:
    return TOGETHER.requests_problems(requests)


def together_response_problems(
    req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
) -> list[str]:
    return TOGETHER.response_problems(req, status, headers, body)


def validate_together_response(
    req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
) -> None:
    TOGETHER.validate_response(req, status, headers, body)


def form_problems(req: RecordedRequest) -> list[str]:
    return TOGETHER.form_problems(req)
