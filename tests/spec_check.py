"""Check traffic recorded by a fake vendor server against the vendor's published OpenAPI spec.

One :class:`VendorSpec` per vendor (``together_spec.py``, ...): ``request_problems(req)`` says why a request
the fake received is not one the vendor documents (empty if it is), ``response_problems(...)`` checks an
answer (JSON, or the events of an SSE stream) the same way, so the fakes stay honest too. Multipart forms,
which openapi-core cannot read as vendors write them, are decoded and checked against the form schema here.

Specs are loaded once per process, lazily (YAML or JSON). They are OpenAPI 3.1 written with 3.0 habits, so
a few mechanical repairs are applied at load time (see ``_repair_schemas``; ``spec.loaded.repairs`` lists
what changed): ``nullable: true`` is honoured, ``discriminator`` without ``mapping`` is dropped (the
``anyOf``/``oneOf`` still decides), and a sibling ``type`` that contradicts a ``oneOf`` goes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
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

_MAX_MESSAGE = 400


@dataclass(frozen=True)
class LoadedSpec:
    api: OpenAPI
    document: dict[str, Any]
    repairs: list[str] = field(default_factory=list)
    load_seconds: float = 0.0


class _SpecRequest:
    """openapi-core's ``Request`` protocol over a recorded request, moved to the vendor's host."""

    def __init__(self, req: RecordedRequest, host: str, path: str) -> None:
        self.host_url = host
        self.path = path
        self.method = req.method.lower()
        self.body: bytes | None = req.body
        self.content_type = req.headers.get("content-type", "").lower()
        cookies = SimpleCookie(req.headers.get("cookie", ""))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(req.query, keep_blank_values=True)),
            header=Headers(req.headers),
            cookie=ImmutableMultiDict({name: morsel.value for name, morsel in cookies.items()}),
        )


class _SpecResponse:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(dict(headers))
        self.content_type = headers.get("content-type", "").lower()
        self.data: bytes | None = body


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


@dataclass
class VendorSpec:
    """One vendor's spec and what the fake may do beyond it.

    ``undocumented_paths``: full-match path regexes the spec does not describe but the vendor really uses;
    ``undocumented_requests``: (method, path regex) pairs likewise; ``aliases``: (real prefix, documented
    prefix) for paths served elsewhere than the spec says; ``form_auth``: the header a multipart request
    must carry (``authorization`` bearer, or another header name).
    """

    name: str
    path: Path
    host: str
    prefix: str = "/v1"
    undocumented_paths: tuple[str, ...] = ()
    undocumented_requests: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    form_auth: str = "authorization"

    @cached_property
    def loaded(self) -> LoadedSpec:
        """The parsed, repaired and built spec (cached)."""
        started = time.perf_counter()
        with self.path.open("rb") as stream:
            if self.path.suffix == ".json":
                document = json.load(stream)
            else:
                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~0.1 s instead of ~0.7 s
                document = yaml.load(stream, Loader=loader)
        repairs = _repair_schemas(document)
        # Vendors' specs do not all pass openapi-spec-validator as published, and checking costs ~1 s.
        api = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
        return LoadedSpec(api, document, repairs, time.perf_counter() - started)

    def spec_path(self, path: str) -> str:
        for real, documented in self.aliases:
            if path == real or path.startswith(real + "/"):
                return documented + path[len(real) :]
        return path

    def _request(self, req: RecordedRequest) -> _SpecRequest:
        return _SpecRequest(req, self.host, self.spec_path(req.path))

    def _operation(self, req: RecordedRequest) -> Any:
        """The spec's operation for ``req``: by literal path, else by a templated one (``/x/{id}/y``)."""
        documented = self.spec_path(req.path).removeprefix(self.prefix)
        paths = self.loaded.document["paths"]
        item = paths.get(documented)
        if item is None:
            for template, candidate in paths.items():
                pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                if re.fullmatch(pattern, documented):
                    item = candidate
                    break
        return (item or {}).get(req.method.lower())

    # ---- requests ---------------------------------------------------------------------------------------
    def request_problems(self, req: RecordedRequest) -> list[str]:
        """Why ``req`` is not a request the vendor's API documents (empty if it is)."""
        if any(re.fullmatch(pattern, req.path) for pattern in self.undocumented_paths):
            return []
        if any(req.method == m and re.fullmatch(p, req.path) for m, p in self.undocumented_requests):
            return []
        if req.headers.get("content-type", "").startswith("multipart/form-data"):
            return self.form_problems(req)
        where = f"{req.method} {req.path}{'?' + req.query if req.query else ''}"
        try:
            self.loaded.api.validate_request(self._request(req))
        except (PathNotFound, OperationNotFound):
            return [f"{where}: not described by the {self.name} OpenAPI spec (nor allowed as undocumented)"]
        except OpenAPIError as exc:
            return [f"{where}: {_describe(exc)}"]
        return []

    def form_problems(self, req: RecordedRequest) -> list[str]:
        """Why a multipart request does not match its operation's multipart/form-data schema (decoded, cast
        per the spec's property types and validated here: openapi-core cannot)."""
        document = self.loaded.document
        operation = self._operation(req)
        if operation is None:
            return [f"{req.method} {req.path}: not described by the {self.name} OpenAPI spec"]
        schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        properties = schema.get("properties", {})
        binary = {name for name, prop in properties.items() if _is_binary(prop, document)}
        instance: dict[str, Any] = {}
        problems: list[str] = []
        for name, values in parse_multipart(req).items():
            if name in binary:  # a file part (or a URL where the spec allows one): checked by hand
                value = values[0]
                url = isinstance(value, str) and value.startswith(("http://", "https://"))
                if not (url or isinstance(value, tuple)):
                    problems.append(f"{name!r} is neither an upload nor an http(s) URL")
                continue
            cast = [_cast(v, properties.get(name, {})) if isinstance(v, str) else v for v in values]
            instance[name] = cast[0] if len(cast) == 1 else cast
        problems += [f"undocumented form field {name!r}" for name in instance if name not in properties]
        without_files = {
            **schema,
            "properties": {k: v for k, v in properties.items() if k not in binary},
            "required": [r for r in schema.get("required", []) if r not in binary],
        }
        validator = OAS31Validator(
            {**without_files, "components": document["components"]}, format_checker=oas31_format_checker
        )
        problems += [f"at {e.json_path}: {e.message}" for e in validator.iter_errors(instance)]
        if self.form_auth == "authorization":
            if req.headers.get("authorization", "").split(" ")[0].lower() != "bearer":
                problems.append("no bearer authorization")
        elif not req.headers.get(self.form_auth):
            problems.append(f"no {self.form_auth} header")
        return [f"{req.method} {req.path}: {p}" for p in problems]

    def validate_request(self, req: RecordedRequest) -> None:
        """Raise ``AssertionError`` (with the reasons) unless ``req`` matches the spec."""
        problems = self.request_problems(req)
        if problems:
            raise AssertionError("\n".join(problems))

    def requests_problems(self, requests: Iterable[RecordedRequest]) -> list[str]:
        """The problems of several requests, each prefixed with its position."""
        problems: list[str] = []
        for number, req in enumerate(requests, start=1):
            problems.extend(f"request #{number}: {problem}" for problem in self.request_problems(req))
        return problems

    # ---- responses --------------------------------------------------------------------------------------
    def response_problems(
        self, req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
    ) -> list[str]:
        """Why an answer to ``req`` is not one the spec documents. SSE bodies are checked event by event
        (``{"data": <parsed event>}`` against the ``text/event-stream`` schema), others by openapi-core."""
        where = f"{req.method} {req.path} -> {status}"
        headers = {name.lower(): value for name, value in headers.items()}
        if headers.get("content-type", "").startswith("text/event-stream"):
            return [f"{where}: {problem}" for problem in self._event_stream_problems(req, status, body)]
        try:
            self.loaded.api.validate_response(self._request(req), _SpecResponse(status, headers, body))
        except OpenAPIError as exc:
            return [f"{where}: {_describe(exc)}"]
        return []

    def validate_response(
        self, req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        problems = self.response_problems(req, status, headers, body)
        if problems:
            raise AssertionError("\n".join(problems))

    def _event_stream_problems(self, req: RecordedRequest, status: int, body: bytes) -> list[str]:
        operation = self._operation(req)
        try:
            schema = operation["responses"][str(status)]["content"]["text/event-stream"]["schema"]
        except (KeyError, TypeError):
            return ["no text/event-stream response is documented for this operation and status"]
        validator = OAS31Validator(
            {**schema, "components": self.loaded.document["components"]}, format_checker=oas31_format_checker
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


def _is_binary(prop: dict[str, Any], document: dict[str, Any]) -> bool:
    """A form property that holds a file: ``format: binary`` directly or in a branch of oneOf/anyOf."""
    if "$ref" in prop:
        prop = document["components"]["schemas"].get(prop["$ref"].rsplit("/", 1)[-1], {})
    if prop.get("format") == "binary" or prop.get("contentMediaType") == "application/octet-stream":
        return True
    return any(_is_binary(branch, document) for key in ("oneOf", "anyOf") for branch in prop.get(key, ()))


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
