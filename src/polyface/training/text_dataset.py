"""Text training datasets: read, validate and convert rows, for any provider (pure: no network).

Reads JSONL, JSON (a list of objects), CSV or Python rows; recognises the formats vendors train on:

- ``conversation``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``,
  roles alternating after an optional leading system message, at least one assistant turn;
- ``instruction``: ``{"prompt": "...", "completion": "..."}``;
- ``text``: ``{"text": "..."}``;
- ``preference`` (DPO): ``{"input": {"messages": [...]}, "preferred_output": [{"role": "assistant",
  "content": "..."}], "non_preferred_output": [{"role": "assistant", "content": "..."}]}``.

and converts the persona shapes polyface accepts: dialogue rows ``{"user": ..., "assistant": ...}`` or
``{"input": "...", "output": "..."}`` become conversations (with ``system=`` as their system prompt), and
``{"prompt": ..., "chosen": ..., "rejected": ...}`` becomes a preference row. Every bad row is reported at
once, with its 1-based line number and the field at fault, in :class:`~polyface.errors.DatasetError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from polyface.errors import DatasetError, InvalidArgument

DatasetFormat = Literal["conversation", "instruction", "text", "preference"]
"""The shape every row of a dataset has (one dataset, one shape)."""

DatasetSource = str | os.PathLike[str] | Iterable[Mapping[str, Any]]
"""A file path (``.jsonl``, ``.json``, ``.csv``) or rows (dicts) already in memory."""

ROLES = frozenset({"system", "user", "assistant"})
METHOD_FORMATS: dict[str, frozenset[DatasetFormat]] = {
    "sft": frozenset({"conversation", "instruction", "text"}),
    "dpo": frozenset({"preference"}),
}
CHARS_PER_TOKEN = 4.0
"""Rough tokenizer: English text averages about 4 characters per token for Llama/GPT tokenizers."""
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template adds around each message (role markers, separators)."""

Problem = tuple[int, str, str]


@dataclass
class TextDataset:
    """Validated rows in one vendor-neutral format (the shape Together and OpenAI read as JSONL)."""

    rows: list[dict[str, Any]]
    format: DatasetFormat
    source: str = "<rows>"
    line_numbers: list[int] = field(default_factory=list)
    """The source line (or row) each entry of ``rows`` came from."""

    def __len__(self) -> int:
        return len(self.rows)

    def to_jsonl(self) -> bytes:
        """The rows as UTF-8 JSONL, one object per line (keys in a stable order, non-ASCII kept)."""
        lines = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in self.rows)
        return ("\n".join(lines) + "\n").encode()

    def estimate_tokens(self) -> int:
        """Roughly how many tokens one epoch over the dataset trains on (for price estimates)."""
        return sum(row_tokens(row) for row in self.rows)


# ---- reading ------------------------------------------------------------------------------------------


def read_rows(source: DatasetSource) -> tuple[str, list[tuple[int, Any]]]:
    """``(name, [(line, row), ...])``: the raw rows of a file or an iterable, with 1-based line numbers.

    JSONL lines that are not JSON are kept as ``DatasetError`` problems by :func:`load_text_dataset`;
    here they come back as the exception so that every line can be reported together.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidArgument(
                f"dataset file {str(path)!r} does not exist; pass a .jsonl, .json or .csv path."
            )
        text = _decode(path.read_bytes(), str(path))
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return str(path), _csv_rows(text, str(path))
        if suffix == ".json":
            return str(path), _json_rows(text, str(path))
        return str(path), _jsonl_rows(text)
    if isinstance(source, Mapping | bytes | bytearray):
        raise InvalidArgument("a dataset is a file path or an iterable of rows (dicts), not a single row.")
    try:
        rows = list(source)
    except TypeError:
        raise InvalidArgument(
            f"a dataset is a file path or an iterable of rows (dicts), not {type(source).__name__}."
        ) from None
    return "<rows>", list(enumerate(rows, start=1))


def _decode(data: bytes, name: str) -> str:
    """``data`` as text (UTF-8, with or without a BOM), else a :class:`DatasetError` naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DatasetError(
            name,
            [
                (
                    line,
                    "(file)",
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
                )
            ],
        ) from None


def _jsonl_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    # JSONL lines end with \n (or \r\n) only: str.splitlines() would also split at U+2028, \x0c, \x85...
    # which JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except ValueError as exc:
            rows.append((number, _Unparsable(str(exc))))
        except RecursionError:
            rows.append((number, _Unparsable("nested too deeply")))
    return rows


def _json_rows(text: str, name: str) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DatasetError(name, [(getattr(exc, "lineno", 0), "(file)", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise DatasetError(name, [(0, "(file)", "not valid JSON: nested too deeply")]) from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DatasetError(name, [(1, "(file)", "a .json dataset must be a list of row objects")])
    return list(enumerate(data, start=1))


def _csv_rows(text: str, name: str = "<csv>") -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[int, Any]] = []
    try:
        for row in reader:
            _csv_row(reader, row, rows)
    except csv.Error as exc:
        raise DatasetError(name, [(reader.line_num, "(line)", f"not valid CSV: {exc}")]) from None
    return rows


def _csv_row(reader: csv.DictReader[str], row: dict[str | Any, Any], rows: list[tuple[int, Any]]) -> None:
    # reader.line_num is the line the row ended on (the header is line 1)
    cleaned: dict[str, Any] = {
        k.strip(): v for k, v in row.items() if isinstance(k, str) and v not in (None, "")
    }
    if not cleaned:
        return
    if isinstance(cleaned.get("messages"), str):
        with contextlib.suppress(ValueError, RecursionError):
            cleaned["messages"] = json.loads(cleaned["messages"])
    rows.append((reader.line_num, cleaned))


@dataclass(frozen=True)
class _Unparsable:
    reason: str


# ---- validation and conversion ----------------------------------------------------------------------


def detect_format(row: Mapping[str, Any]) -> DatasetFormat | None:
    """The format a row is in (after persona conversion), or None when it matches none."""
    if "messages" in row:
        return "conversation"
    if "preferred_output" in row or "non_preferred_output" in row or "chosen" in row or "rejected" in row:
        return "preference"
    if "prompt" in row and "completion" in row:
        return "instruction"
    if "text" in row:
        return "text"
    if "user" in row or "assistant" in row:
        return "conversation"
    if "input" in row and "output" in row:
        return "conversation"
    if "prompt" in row or "completion" in row:
        return "instruction"
    return None


def convert_row(row: Mapping[str, Any], *, system: str | None = None) -> dict[str, Any]:
    """A persona-shaped row in the vendor's shape (vendor rows pass through; ``system`` is prepended
    to conversations and preference inputs that have no system message). Does not validate."""
    out: dict[str, Any]
    if "messages" in row:
        out = dict(row)
        out["messages"] = _with_system(row["messages"], system)
        return out
    if "chosen" in row or "rejected" in row:
        prompt = row.get("prompt", row.get("input"))
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        return {
            "input": {"messages": _with_system(messages, system)},
            "preferred_output": [{"role": "assistant", "content": row.get("chosen")}],
            "non_preferred_output": [{"role": "assistant", "content": row.get("rejected")}],
        }
    if "preferred_output" in row or "non_preferred_output" in row:
        out = dict(row)
        source = row.get("input")
        if isinstance(source, Mapping) and isinstance(source.get("messages"), list):
            out["input"] = dict(source, messages=_with_system(source["messages"], system))
        return out
    dialogue = None
    if ("user" in row or "assistant" in row) and "prompt" not in row:
        dialogue = (row.get("user"), row.get("assistant"), "user", "assistant")
    elif "input" in row and "output" in row and not isinstance(row.get("input"), Mapping):
        dialogue = (row.get("input"), row.get("output"), "input", "output")
    if dialogue is not None:
        user, assistant, _, _ = dialogue
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return {"messages": _with_system(messages, system)}
    return dict(row)


def _with_system(messages: Any, system: str | None) -> Any:
    if system is None or not isinstance(messages, list):
        return messages
    if messages and isinstance(messages[0], Mapping) and messages[0].get("role") == "system":
        return messages
    return [{"role": "system", "content": system}, *messages]


def _check_string(value: Any, where: str, problems: list[tuple[str, str]], *, empty_ok: bool = False) -> None:
    if not isinstance(value, str):
        shown = "missing" if value is None else f"a {type(value).__name__}"
        problems.append((where, f"must be a string (got {shown})"))
    elif not empty_ok and not value.strip():
        problems.append((where, "must not be empty"))


def _check_messages(
    messages: Any,
    where: str,
    problems: list[tuple[str, str]],
    *,
    need_assistant: bool,
    last_user: bool = False,
) -> None:
    if not isinstance(messages, list) or not messages:
        problems.append((where, "must be a non-empty list of {role, content} messages"))
        return
    previous: str | None = None
    assistants = 0
    for index, message in enumerate(messages):
        at = f"{where}[{index}]"
        if not isinstance(message, Mapping):
            problems.append((at, "must be an object with 'role' and 'content'"))
            continue
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            problems.append((f"{at}.role", f"must be one of system, user, assistant (got {role!r})"))
        elif role == "system" and index != 0:
            problems.append((f"{at}.role", "a system message may only come first"))
        elif role != "system" and role == previous:
            problems.append(
                (f"{at}.role", f"two {role} messages in a row; user and assistant must alternate")
            )
        _check_string(message.get("content"), f"{at}.content", problems, empty_ok=role == "assistant")
        weight = message.get("weight")
        if weight is not None and weight not in (0, 1):
            problems.append((f"{at}.weight", "must be 0 or 1"))
        extra = set(message) - {"role", "content", "weight"}
        if extra:
            problems.append((at, f"unknown key(s) {', '.join(sorted(extra))}; use role, content, weight"))
        if role == "assistant":
            assistants += 1
        previous = role if isinstance(role, str) else previous
    if need_assistant and assistants == 0:
        problems.append((where, "needs at least one assistant message (the turn the model learns to write)"))
    if last_user and isinstance(messages[-1], Mapping) and messages[-1].get("role") != "user":
        problems.append(
            (f"{where}[{len(messages) - 1}].role", "the last input message must be from the user")
        )


def _check_output(value: Any, where: str, problems: list[tuple[str, str]]) -> None:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], Mapping):
        problems.append((where, "must be a list holding one {role: assistant, content} message"))
        return
    if value[0].get("role") != "assistant":
        problems.append((f"{where}[0].role", f"must be 'assistant' (got {value[0].get('role')!r})"))
    _check_string(value[0].get("content"), f"{where}[0].content", problems)


def row_problems(row: Mapping[str, Any], fmt: DatasetFormat) -> list[tuple[str, str]]:
    """``[(field, message), ...]`` wrong with a vendor-shaped row of format ``fmt`` (empty when fine)."""
    problems: list[tuple[str, str]] = []
    if fmt == "conversation":
        _check_messages(row.get("messages"), "messages", problems, need_assistant=True)
    elif fmt == "instruction":
        _check_string(row.get("prompt"), "prompt", problems)
        _check_string(row.get("completion"), "completion", problems)
    elif fmt == "text":
        _check_string(row.get("text"), "text", problems)
    else:
        source = row.get("input")
        if not isinstance(source, Mapping):
            problems.append(("input", "must be an object {messages: [...]} (the prompt the outputs answer)"))
        else:
            _check_messages(
                source.get("messages"), "input.messages", problems, need_assistant=False, last_user=True
            )
        _check_output(row.get("preferred_output"), "preferred_output", problems)
        _check_output(row.get("non_preferred_output"), "non_preferred_output", problems)
    return problems


def validate_rows(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str = "<rows>",
    system: str | None = None,
    method: str | None = None,
) -> TextDataset:
    """Convert and check numbered rows; raise :class:`DatasetError` listing every bad line.

    All rows must share one format (the first good row sets it). ``method`` (``"sft"``/``"dpo"``), when
    given, must suit it: DPO trains on preference rows only, SFT on the other formats.
    """
    if method is not None and method not in METHOD_FORMATS:
        raise InvalidArgument(f"method must be 'sft' or 'dpo' (got {method!r}).")
    problems: list[Problem] = []
    converted: list[dict[str, Any]] = []
    numbers: list[int] = []
    dataset_format: DatasetFormat | None = None
    first_line = 0
    for number, raw in rows:
        if isinstance(raw, _Unparsable):
            problems.append((number, "(line)", f"not valid JSON: {raw.reason}"))
            continue
        if not isinstance(raw, Mapping):
            problems.append((number, "(line)", f"must be a JSON object (got {type(raw).__name__})"))
            continue
        fmt = detect_format(raw)
        if fmt is None:
            keys = ", ".join(sorted(map(str, raw))) or "none"
            problems.append(
                (
                    number,
                    "(row)",
                    f"unrecognised row (keys: {keys}); use messages, prompt+completion, text, "
                    "user+assistant, input+output, or input+preferred_output+non_preferred_output",
                )
            )
            continue
        row = convert_row(raw, system=system)
        row_errors = row_problems(row, fmt)
        problems.extend((number, where, message) for where, message in row_errors)
        if dataset_format is None:
            dataset_format, first_line = fmt, number
        elif fmt != dataset_format:
            problems.append(
                (
                    number,
                    "(row)",
                    f"is a {fmt} row but the dataset is {dataset_format} (from line {first_line})",
                )
            )
            continue
        if not row_errors:
            converted.append(row)
            numbers.append(number)
    if problems:
        raise DatasetError(source, problems)
    if dataset_format is None:
        raise DatasetError(source, [(0, "(file)", "the dataset has no rows")])
    if method is not None and dataset_format not in METHOD_FORMATS[method]:
        wanted = (
            "preference rows (input + preferred_output + non_preferred_output)"
            if method == "dpo"
            else ("messages, prompt+completion or text rows")
        )
        raise InvalidArgument(
            f"method={method!r} trains on {wanted}, but {source} holds {dataset_format} rows."
        )
    return TextDataset(converted, dataset_format, source, numbers)


def load_text_dataset(
    source: DatasetSource | TextDataset, *, system: str | None = None, method: str | None = None
) -> TextDataset:
    """Read, convert and validate a dataset (a path, rows, or an already loaded :class:`TextDataset`)."""
    if isinstance(source, TextDataset):
        if method is not None and source.format not in METHOD_FORMATS.get(method, frozenset()):
            return validate_rows(enumerate(source.rows, start=1), source=source.source, method=method)
        return source
    name, rows = read_rows(source)
    return validate_rows(rows, source=name, system=system, method=method)


# ---- token counts ---------------------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """A rough token count of ``text`` (about 4 characters per token; at least 1 for non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _messages_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(
        MESSAGE_OVERHEAD_TOKENS + count_tokens(str(m.get("content") or ""))
        for m in messages
        if isinstance(m, Mapping)
    )


def row_tokens(row: Mapping[str, Any]) -> int:
    """Rough tokens in one vendor-shaped row (a DPO row counts its prompt once per output)."""
    if "messages" in row:
        return _messages_tokens(row["messages"])
    if "preferred_output" in row:
        source = row.get("input")
        prompt = _messages_tokens(source.get("messages")) if isinstance(source, Mapping) else 0
        return (
            2 * prompt
            + _messages_tokens(row.get("preferred_output"))
            + _messages_tokens(row.get("non_preferred_output"))
        )
    return sum(count_tokens(str(row.get(key) or "")) for key in ("prompt", "completion", "text"))
