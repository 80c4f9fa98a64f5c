"""Property-based tests of the fine-tuning dataset validators (``polyface.training.text_dataset`` and
OpenAI's ``load_openai_dataset``): valid datasets of every format pass (from rows, JSONL, JSON and CSV
files) and survive a round trip; any other input (random JSON per line, random bytes in any encoding,
a valid dataset with one corrupted row) raises :class:`DatasetError` naming the line and the field at
fault, or :class:`InvalidArgument` for a wrong argument: never another exception."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from _fuzz_strategies import FEW, FUZZ, dataset_like, json_values, valid_dataset, words
from hypothesis import assume, given
from hypothesis import strategies as st

from polyface.errors import DatasetError, InvalidArgument
from polyface.providers.openai.fine_tuning.text import load_openai_dataset
from polyface.training.text_dataset import TextDataset, load_text_dataset, validate_rows

pytestmark = pytest.mark.reliability


def _check_error(exc: DatasetError, lines: set[int]) -> None:
    """Every problem names a line of the input (0: the whole file), a field and a message."""
    assert exc.problems, exc
    for line, where, message in exc.problems:
        assert line in lines | {0}, (line, lines, exc.problems)
        assert isinstance(where, str) and where, exc.problems
        assert isinstance(message, str) and message.strip(), exc.problems
    assert str(exc).startswith(exc.path) and "bad line" in str(exc)


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


# ---- valid datasets pass ----------------------------------------------------------------------------


@FUZZ
@given(valid_dataset(), st.sampled_from(["rows", "jsonl", "json"]), st.none() | words)
def test_valid_datasets_pass_from_rows_and_files(
    tmp_path: Path, dataset: tuple[str, list[dict[str, Any]]], kind: str, system: str | None
) -> None:
    fmt, rows = dataset
    source: Any = rows
    if kind == "jsonl":
        source = _write(tmp_path / "in", "data.jsonl", _jsonl(rows))
    elif kind == "json":
        source = _write(tmp_path / "in", "data.json", json.dumps(rows).encode())
    loaded = load_text_dataset(source, system=system)
    assert loaded.format == fmt and len(loaded) == len(rows)
    assert loaded.line_numbers == list(range(1, len(rows) + 1))
    assert loaded.estimate_tokens() > 0
    # the converted rows are valid vendor rows: loading them again changes nothing
    again = load_text_dataset([json.loads(line) for line in loaded.to_jsonl().decode().split("\n") if line])
    assert again.rows == loaded.rows and again.format == fmt
    method = "dpo" if fmt == "preference" else "sft"
    assert load_text_dataset(rows, method=method).format == fmt
    with pytest.raises(InvalidArgument, match="trains on"):
        load_text_dataset(rows, method="sft" if method == "dpo" else "dpo")


@FEW
@given(st.lists(st.tuples(words, words), min_size=1, max_size=6))
def test_valid_csv_datasets_pass(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    assume(all("\x00" not in p + c and p.strip() == p and c.strip() == c for p, c in pairs))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["prompt", "completion"])
    writer.writerows(pairs)
    path = _write(tmp_path / "csv", "data.csv", out.getvalue().encode())
    loaded = load_text_dataset(path)
    assert loaded.format == "instruction"
    assert [(r["prompt"], r["completion"]) for r in loaded.rows] == pairs


# ---- anything else raises DatasetError, never another exception -----------------------------------------


@FUZZ
@given(st.lists(st.one_of(dataset_like(), json_values), min_size=1, max_size=6), st.none() | words)
def test_random_rows_pass_or_raise_dataset_error(rows: list[Any], system: str | None) -> None:
    try:
        loaded = validate_rows(enumerate(rows, start=1), system=system)
    except DatasetError as exc:
        _check_error(exc, set(range(1, len(rows) + 1)))
    else:
        assert isinstance(loaded, TextDataset) and len(loaded) == len(rows)
        assert all(isinstance(row, dict) for row in loaded.rows)


@FUZZ
@given(st.lists(st.one_of(dataset_like(), json_values), min_size=1, max_size=6))
def test_random_rows_for_openai_pass_or_raise_dataset_error(rows: list[Any]) -> None:
    """OpenAI's validator (vision parts, completion models, a minimum count) keeps the same contract."""
    model = "gpt-4o-mini-2024-07-18"
    for method in ("sft", "dpo"):
        try:
            loaded = load_openai_dataset(list(rows), method=method, base_model=model)
        except DatasetError as exc:
            _check_error(exc, set(range(1, len(rows) + 1)))
        except InvalidArgument as exc:  # a valid dataset of the wrong format for the method or model
            assert "trains on" in str(exc) or "train on" in str(exc), exc
        else:
            assert len(loaded) == len(rows)


json_lines = st.lists(
    st.one_of(
        json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
        dataset_like().map(json.dumps),
        st.text(max_size=40),  # not JSON, mostly
        st.just(""),
        st.just("[" * 5000),  # deeper than the JSON parser recurses
    ),
    min_size=1,
    max_size=8,
)


@FUZZ
@given(json_lines, st.sampled_from(["\n", "\r\n"]))
def test_random_jsonl_files_pass_or_raise_dataset_error(tmp_path: Path, lines: list[str], end: str) -> None:
    assume(all("\n" not in line and "\r" not in line for line in lines))
    path = _write(tmp_path / "jsonl", "data.jsonl", end.join(lines).encode("utf-8", "surrogatepass"))
    try:
        loaded = load_text_dataset(path)
    except DatasetError as exc:
        numbered = {n for n, line in enumerate(lines, start=1) if line.strip()}
        _check_error(exc, numbered)
        broken = {n for n, line in enumerate(lines, start=1) if line.strip() and not _is_json(line)}
        reported = {line for line, where, _ in exc.problems if where == "(line)"}
        assert broken <= reported, (broken, exc.problems)
    else:
        assert all(_is_json(line) for line in lines if line.strip())
        assert len(loaded) == sum(1 for line in lines if line.strip())


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "shift_jis"]


@FUZZ
@given(
    st.lists(dataset_like(), min_size=1, max_size=4),
    st.sampled_from(ENCODINGS),
    st.sampled_from([".jsonl", ".json", ".csv", ".txt", ""]),
    st.binary(max_size=64),
)
def test_any_encoding_or_bytes_pass_or_raise_dataset_error(
    tmp_path: Path, rows: list[Any], encoding: str, suffix: str, noise: bytes
) -> None:
    """Files in other encodings, with random bytes spliced in, in every format the reader knows."""
    text = _jsonl(rows).decode()
    if suffix == ".json":
        text = json.dumps(rows, ensure_ascii=False)
    data = text.encode(encoding, "replace")
    cut = len(data) // 2
    data = data[:cut] + noise + data[cut:]
    path = _write(tmp_path / "enc", f"data{suffix}", data)
    try:
        loaded = load_text_dataset(path)
    except DatasetError as exc:
        # a line of the file, or for a .json list the row's position in it
        last = max(data.count(b"\n") + data.count(b"\r") + 1, len(rows))
        _check_error(exc, set(range(1, last + 1)))
    else:
        assert len(loaded) >= 1


# ---- one corrupted row: its line and field are named ------------------------------------------------


def _corrupt(fmt: str, row: dict[str, Any], how: int) -> tuple[dict[str, Any], str]:
    """``row`` (vendor-shaped, of format ``fmt``) broken one way, and the field the error must name."""
    row = json.loads(json.dumps(row))
    if fmt == "conversation":
        messages = row["messages"]
        index = next(i for i, m in enumerate(messages) if m["role"] == "user")
        if how % 3 == 0:
            messages[index]["content"] = 42
            return row, f"messages[{index}].content"
        if how % 3 == 1:
            messages[index]["role"] = "robot"
            return row, f"messages[{index}].role"
        messages[index]["weight"] = 7
        return row, f"messages[{index}].weight"
    if fmt == "instruction":
        key = "prompt" if how % 2 else "completion"
        row[key] = [] if how % 3 else "   "
        return row, key
    if fmt == "text":
        row["text"] = {"nested": True} if how % 2 else ""
        return row, "text"
    key = "preferred_output" if how % 2 else "non_preferred_output"
    if how % 3 == 0:
        row[key] = []
        return row, key
    row[key][0]["role"] = "user"
    return row, f"{key}[0].role"


@FUZZ
@given(valid_dataset(), st.data(), st.integers(min_value=0, max_value=5), st.integers(0, 3))
def test_a_corrupted_row_is_reported_with_its_line_and_field(
    tmp_path: Path, dataset: tuple[str, list[dict[str, Any]]], data: st.DataObject, how: int, blanks: int
) -> None:
    fmt, rows = dataset
    vendor = load_text_dataset(rows).rows  # persona shapes converted: the fields are the vendor's
    bad_index = data.draw(st.integers(min_value=0, max_value=len(vendor) - 1))
    broken, field = _corrupt(fmt, vendor[bad_index], how)
    mixed = [*vendor[:bad_index], broken, *vendor[bad_index + 1 :]]
    lines = [json.dumps(row, ensure_ascii=False) for row in mixed]
    text = "\n" * blanks + "\n".join(lines) + "\n"  # blank lines first: line numbers count them
    path = _write(tmp_path / "bad", "data.jsonl", text.encode())
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(path)
    expected_line = blanks + bad_index + 1
    assert (expected_line, field) in {(line, where) for line, where, _ in caught.value.problems}, (
        caught.value.problems
    )
    assert all(line == expected_line for line, _, _ in caught.value.problems), caught.value.problems
    assert f"line {expected_line}: {field}" in str(caught.value)


@FEW
@given(valid_dataset(), st.integers(min_value=0, max_value=7), st.sampled_from(["{", "[1, 2]", '"x"', "7"]))
def test_a_line_that_is_not_an_object_is_reported(
    tmp_path: Path, dataset: tuple[str, list[dict[str, Any]]], where: int, junk: str
) -> None:
    _, rows = dataset
    lines = [json.dumps(row) for row in rows]
    where = min(where, len(lines))
    lines.insert(where, junk)
    path = _write(tmp_path / "junk", "data.jsonl", "\n".join(lines).encode())
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(path)
    assert caught.value.problems[0][:2] == (where + 1, "(line)"), caught.value.problems
    assert len(caught.value.problems) == 1


def test_deeply_nested_json_is_a_dataset_error(tmp_path: Path) -> None:
    """A line nested deeper than the JSON parser recurses is a bad line, not a RecursionError."""
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"text": "fine"})
    jsonl = _write(tmp_path / "deep", "data.jsonl", f"{good}\n{deep}\n".encode())
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(jsonl)
    assert [(line, where) for line, where, _ in caught.value.problems] == [(2, "(line)")]
    whole = _write(tmp_path / "deep", "data.json", deep.encode())
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(whole)
    assert caught.value.problems[0][1] == "(file)"


def test_non_utf8_file_is_a_dataset_error_naming_the_line(tmp_path: Path) -> None:
    rows = [{"text": "one"}, {"text": "two"}, {"text": "caf\u00e9"}]
    path = _write(tmp_path / "latin", "data.jsonl", _jsonl(rows).decode().encode("latin-1"))
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(path)
    ((line, where, message),) = caught.value.problems
    assert (line, where) == (3, "(file)") and "UTF-8" in message
