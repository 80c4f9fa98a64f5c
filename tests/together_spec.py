"""Check traffic recorded by the fake Together server against Together's OpenAPI spec (openapi-core).

``validate_together_request(req)`` raises ``AssertionError`` with a readable reason when a request the fake
received is not one Together's API documents; ``together_request_problems(req)`` returns the reasons instead.
``validate_together_response(...)`` checks an answer (JSON, or the events of an SSE stream) the same way; the
tests of the fake use it to keep the fake honest.

The spec (``<repo>/../shared/specs/together-openapi.yaml``, or ``$TOGETHER_OPENAPI_SPEC``) is loaded once per
process, lazily. It is OpenAPI 3.1 written with 3.0 habits, so a few mechanical repairs are applied at load
time (see ``_repair_schemas``; the list of what was changed is ``together_spec().repairs``):

* ``nullable: true`` means nothing in 3.1 (it became ``type: [..., "null"]``), but the spec relies on it, e.g.
  for an assistant message's ``content: null`` or ``random_seed: null``. It is honoured.
* ``discriminator`` without ``mapping`` makes openapi-core look up a component schema named after the value
  (``#/components/schemas/json_schema``), which does not exist, so every ``response_format`` failed. Such
  discriminators are dropped; the ``anyOf``/``oneOf`` they decorate still decides.
* ``type`` next to a ``oneOf`` whose branches have other types (``train_on_inputs: {type: boolean, oneOf:
  [boolean, "auto"]}``, default ``"auto"``) made the documented default invalid. The sibling ``type`` goes.

Everything else is checked as written, strict parts included (see the report in the tests).
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from jsonschema.exceptions import ValidationError, best_match
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from werkzeug.datastructures import Headers, ImmutableMultiDict

from polyface.testing.fake_together import RecordedRequest
from polyface.testing.fake_together.audio import parse_multipart

SPEC_PATH = Path(
    os.environ.get("TOGETHER_OPENAPI_SPEC")
    or Path(__file__).resolve().parents[2] / "shared" / "specs" / "together-openapi.yaml"
)
#: Together's real host; the fake's ``/v1/...`` paths are checked as ``https://api.together.ai/v1/...``.
SPEC_HOST = "https://api.together.ai"
#: Paths the spec does not describe but that Together really uses (full-match regexes). Any other request
#: to an undocumented path is a failure. The upload flow: POST /v1/files answers 302 to a presigned URL
#: (served by the fake under /presigned/), the bytes are PUT there, then POST /v1/files/{id}/preprocess.
UNDOCUMENTED_PATHS_ALLOWED: tuple[str, ...] = (r"/presigned/.*", r"/v1/files/[^/]+/preprocess")
#: (method, path regex) pairs the spec does not describe although other methods of the path are documented:
#: POST /v1/files starts the upload flow (the spec only lists GET /files).
UNDOCUMENTED_REQUESTS_ALLOWED: tuple[tuple[str, str], ...] = (("POST", r"/v1/files"),)
#: Paths served under another version prefix than the spec says (real, documented). None today: the video
#: operations carry their own `servers: [https://api.together.ai/v2]`, so /v2/videos validates as written.
VERSION_ALIASES: tuple[tuple[str, str], ...] = ()

_MAX_MESSAGE = 400


@dataclass(frozen=True)
class TogetherSpec:
    api: OpenAPI
    document: dict[str, Any]
    repairs: list[str] = field(default_factory=list)
    load_seconds: float = 0.0


@functools.cache
def together_spec() -> TogetherSpec:
    """The parsed, repaired and built spec (cached for the process)."""
    started = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~0.1 s instead of ~0.7 s
    with SPEC_PATH.open("rb") as stream:
        document = yaml.load(stream, Loader=loader)
    repairs = _repair_schemas(document)
    # The spec does not pass openapi-spec-validator as published (train_on_inputs' default); checking it also
    # costs ~1 s. It is Together's file, not ours: skip that check.
    api = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
    return TogetherSpec(api, document, repairs, time.perf_counter() - started)


# ---- requests -------------------------------------------------------------------------------------------


class _SpecRequest:
    """openapi-core's ``Request`` protocol over a recorded request, moved to Together's host."""

    def __init__(self, req: RecordedRequest) -> None:
        self.host_url = SPEC_HOST
        self.path = _spec_path(req.path)
        self.method = req.method.lower()
        self.body: bytes | None = req.body
        self.content_type = req.headers.get("content-type", "").lower()
        cookies = SimpleCookie(req.headers.get("cookie", ""))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(req.query, keep_blank_values=True)),
            header=Headers(req.headers),
            cookie=ImmutableMultiDict({name: morsel.value for name, morsel in cookies.items()}),
        )


def _spec_path(path: str) -> str:
    for real, documented in VERSION_ALIASES:
        if path == real or path.startswith(real + "/"):
            return documented + path[len(real) :]
    return path


def together_request_problems(req: RecordedRequest) -> list[str]:
    """Why ``req`` is not a request Together's API documents (empty if it is)."""
    if any(re.fullmatch(pattern, req.path) for pattern in UNDOCUMENTED_PATHS_ALLOWED):
        return []
    if any(req.method == m and re.fullmatch(p, req.path) for m, p in UNDOCUMENTED_REQUESTS_ALLOWED):
        return []
    if req.headers.get("content-type", "").startswith("multipart/form-data"):
        return form_problems(req)
    where = f"{req.method} {req.path}{'?' + req.query if req.query else ''}"
    try:
        together_spec().api.validate_request(_SpecRequest(req))
    except (PathNotFound, OperationNotFound):
        return [
            f"{where}: not described by the Together OpenAPI spec (and not in UNDOCUMENTED_PATHS_ALLOWED)"
        ]
    except OpenAPIError as exc:
        return [f"{where}: {_describe(exc)}"]
    return []


# ---- multipart requests --------------------------------------------------------------------------------


def _cast(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    return value


def form_problems(req: RecordedRequest) -> list[str]:
    """Why a multipart request does not match its operation's multipart/form-data schema.

    openapi-core cannot check multipart bodies as Together's spec writes them (a binary part fails
    ``type: string``; form values are not cast to boolean/number), so they are decoded, cast per the spec's
    property types and validated here.
    """
    document = together_spec().document
    operation = document["paths"][req.path.removeprefix("/v1")][req.method.lower()]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    properties = schema.get("properties", {})
    instance: dict[str, Any] = {}
    problems: list[str] = []
    for name, values in parse_multipart(req).items():
        if name == "file":  # oneOf binary | uri: both are strings to JSON Schema, so check it by hand
            (value,) = values
            url = isinstance(value, str) and value.startswith(("http://", "https://"))
            if not (url or isinstance(value, tuple)):
                problems.append("'file' is neither an upload nor an http(s) URL")
            continue
        cast = [_cast(v, properties.get(name, {})) if isinstance(v, str) else v for v in values]
        instance[name] = cast[0] if len(cast) == 1 else cast
    problems += [f"undocumented form field {name!r}" for name in instance if name not in properties]
    without_file = {
        **schema,
        "properties": {k: v for k, v in properties.items() if k != "file"},
        "required": [r for r in schema.get("required", []) if r != "file"],
    }
    validator = OAS31Validator(
        {**without_file, "components": document["components"]}, format_checker=oas31_format_checker
    )
    problems += [f"at {e.json_path}: {e.message}" for e in validator.iter_errors(instance)]
    if req.headers.get("authorization", "").split(" ")[0].lower() != "bearer":
        problems.append("no bearer authorization")
    return [f"{req.method} {req.path}: {p}" for p in problems]


def validate_together_request(req: RecordedRequest) -> None:
    """Raise ``AssertionError`` (with the reasons) unless ``req`` matches Together's OpenAPI spec."""
    problems = together_request_problems(req)
    if problems:
        raise AssertionError("\n".join(problems))


def together_requests_problems(requests: Iterable[RecordedRequest]) -> list[str]:
    """The problems of several requests, each prefixed with its position."""
    problems: list[str] = []
    for number, req in enumerate(requests, start=1):
        problems.extend(f"request #{number}: {problem}" for problem in together_request_problems(req))
    return problems


# ---- responses ------------------------------------------------------------------------------------------


class _SpecResponse:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(dict(headers))
        self.content_type = headers.get("content-type", "").lower()
        self.data: bytes | None = body


def together_response_problems(
    req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
) -> list[str]:
    """Why an answer to ``req`` is not one Together's spec documents. SSE bodies are checked event by event
    (``{"data": <parsed event>}`` against the ``text/event-stream`` schema), other bodies by openapi-core."""
    where = f"{req.method} {req.path} -> {status}"
    headers = {name.lower(): value for name, value in headers.items()}
    if headers.get("content-type", "").startswith("text/event-stream"):
        return [f"{where}: {problem}" for problem in _event_stream_problems(req, status, body)]
    try:
        together_spec().api.validate_response(_SpecRequest(req), _SpecResponse(status, headers, body))
    except OpenAPIError as exc:
        return [f"{where}: {_describe(exc)}"]
    return []


def validate_together_response(
    req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
) -> None:
    problems = together_response_problems(req, status, headers, body)
    if problems:
        raise AssertionError("\n".join(problems))


def _event_stream_problems(req: RecordedRequest, status: int, body: bytes) -> list[str]:
    spec = together_spec()
    documented = _spec_path(req.path).removeprefix("/v1")
    operation = spec.document["paths"].get(documented, {}).get(req.method.lower())
    try:
        schema = operation["responses"][str(status)]["content"]["text/event-stream"]["schema"]
    except (KeyError, TypeError):
        return ["no text/event-stream response is documented for this operation and status"]
    validator = OAS31Validator(
        {**schema, "components": spec.document["components"]}, format_checker=oas31_format_checker
    )
    problems: list[str] = []
    for number, event in enumerate(_sse_data(body), start=1):
        try:
            data: Any = event if event == "[DONE]" else json.loads(event)
        except ValueError:
            problems.append(f"event #{number} is not JSON: {event[:100]!r}")
            continue
        errors = list(validator.iter_errors({"data": data}))
        problems.extend(f"event #{number}: {_describe_schema_error(error)}" for error in errors)
    return problems


def _sse_data(body: bytes) -> list[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    events: list[str] = []
    lines: list[str] = []
    for line in body.decode().splitlines():
        if not line:
            if lines:
                events.append("\n".join(lines))
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        events.append("\n".join(lines))
    return events


# ---- error messages -------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    """One readable paragraph from an openapi-core error and its cause (schema errors with their paths)."""
    cause = exc.__cause__
    schema_errors: tuple[ValidationError, ...] = tuple(getattr(cause, "schema_errors", None) or ())
    text = str(exc)
    if schema_errors:  # the message repeats the whole value; the schema errors below say what matters
        text = text.split(" Value ", 1)[0].removeprefix(f"{type(exc).__name__}:").strip().rstrip(":")
    parts = [f"{type(exc).__name__}: {_shorten(text)}" if text else type(exc).__name__]
    if schema_errors:
        parts.extend(f"  - {_describe_schema_error(error)}" for error in schema_errors)
    elif cause is not None and str(cause) and str(cause) not in str(exc):
        parts.append(f"  caused by {type(cause).__name__}: {_shorten(str(cause))}")
    return "\n".join(parts)


def _describe_schema_error(error: ValidationError) -> str:
    if not error.context:
        return f"at {error.json_path}: {_shorten(error.message)}"
    # A oneOf/anyOf failed: say why the branch the value was presumably meant for failed, i.e. the branch not
    # ruled out by the value's type or by a const/enum property such as "role" or "type".
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def ruled_out(errors: list[ValidationError]) -> bool:
        return any(
            (e.validator == "type" and not e.relative_path)
            or (e.validator in ("enum", "const") and len(e.relative_path) == 1)
            for e in errors
        )

    candidates = [errors for errors in branches.values() if not ruled_out(errors)]
    selectors = [e for e in error.context if e.validator in ("enum", "const") and len(e.relative_path) == 1]
    if len(candidates) == 1:
        reasons = "; ".join(f"at {e.json_path}: {_shorten(e.message)}" for e in candidates[0][:3])
    elif not candidates and selectors:
        allowed: list[Any] = []
        for e in selectors:
            values = e.validator_value if e.validator == "enum" else [e.validator_value]
            allowed.extend(v for v in values if v not in allowed)
        first = selectors[0]
        reasons = f"at {first.json_path}: {first.instance!r} is not one of {allowed!r}"
    else:
        closest = best_match(error.context)
        reasons = f"at {closest.json_path}: {_shorten(closest.message)}"
    return f"at {error.json_path}: matches none of the {error.validator} schemas (closest: {reasons})"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


# ---- spec repairs ---------------------------------------------------------------------------------------

_NOT_SCHEMAS = frozenset({"example", "examples", "x-codeSamples", "default", "enum", "const"})


def _repair_schemas(document: dict[str, Any]) -> list[str]:
    """Apply the repairs described in the module docstring, in place; returns what was changed, where."""
    repairs: list[str] = []

    def visit(node: Any, pointer: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, f"{pointer}/{index}")
            return
        if not isinstance(node, dict):
            return
        # `allOf: [{nullable: true}, {$ref: X}]` means "X or null": lift the flag before the members change.
        members = node.get("allOf")
        if isinstance(members, list):
            flags = [m for m in members if isinstance(m, dict) and m.get("nullable") is True and len(m) == 1]
            if flags:
                node["allOf"] = [m for m in members if not any(m is flag for flag in flags)]
                node["nullable"] = True
        for key, value in list(node.items()):
            if key not in _NOT_SCHEMAS:
                visit(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
        _drop_unmapped_discriminator(node, pointer, repairs)
        _drop_conflicting_type(node, pointer, repairs)
        _apply_nullable(node, pointer, repairs)

    visit(document, "#")
    return repairs


def _drop_unmapped_discriminator(node: dict[str, Any], pointer: str, repairs: list[str]) -> None:
    discriminator = node.get("discriminator")
    if isinstance(discriminator, dict) and "propertyName" in discriminator and "mapping" not in discriminator:
        del node["discriminator"]
        repairs.append(f"{pointer}: dropped discriminator without mapping")


def _drop_conflicting_type(node: dict[str, Any], pointer: str, repairs: list[str]) -> None:
    kind = node.get("type")
    if not isinstance(kind, str):
        return
    for keyword in ("oneOf", "anyOf"):
        branches = node.get(keyword)
        if (
            isinstance(branches, list)
            and branches
            and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in branches)
            and any(b["type"] != kind for b in branches)
        ):
            del node["type"]
            repairs.append(f"{pointer}: dropped type {kind!r} that contradicts its {keyword}")
            return


def _apply_nullable(node: dict[str, Any], pointer: str, repairs: list[str]) -> None:
    if node.get("nullable") is not True:
        return
    rest = {key: value for key, value in node.items() if key != "nullable"}
    kind = rest.get("type")
    if isinstance(kind, str) and not rest.keys() & {"$ref", "allOf", "anyOf", "oneOf", "enum", "const"}:
        node["type"] = [kind, "null"]
        del node["nullable"]
    else:
        node.clear()
        node["anyOf"] = [{"type": "null"}, rest]
    repairs.append(f"{pointer}: nullable")
