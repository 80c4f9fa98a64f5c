"""polyface.training.text_dataset: reading, validating and converting text training data (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyface.errors import DatasetError, InvalidArgument
from polyface.training import TextDataset, count_tokens, load_text_dataset, row_tokens

CHAT = {
    "messages": [
        {"role": "system", "content": "You are Rex."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, citizen."},
    ]
}
DPO = {
    "input": {"messages": [{"role": "user", "content": "Say hi"}]},
    "preferred_output": [{"role": "assistant", "content": "Hello, citizen."}],
    "non_preferred_output": [{"role": "assistant", "content": "whatever"}],
}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("row", "fmt"),
    [
        (CHAT, "conversation"),
        ({"prompt": "2+2=", "completion": "4"}, "instruction"),
        ({"text": "Once upon a time"}, "text"),
        (DPO, "preference"),
    ],
)
def test_every_vendor_format_is_accepted_and_passes_through(tmp_path: Path, row: Any, fmt: str) -> None:
    data = load_text_dataset(write_jsonl(tmp_path / "d.jsonl", [row, row]))
    assert data.format == fmt and len(data) == 2
    assert data.rows == [row, row]
    assert [json.loads(line) for line in data.to_jsonl().decode().splitlines()] == [row, row]


def test_persona_dialogue_rows_become_conversations_with_the_system_prompt() -> None:
    rows = [{"user": "Who are you?", "assistant": "Rex."}, {"input": "Where?", "output": "Here."}]
    data = load_text_dataset(rows, system="You are Rex.")
    assert data.format == "conversation"
    assert data.rows[0] == {
        "messages": [
            {"role": "system", "content": "You are Rex."},
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": "Rex."},
        ]
    }
    assert data.rows[1]["messages"][1:] == [
        {"role": "user", "content": "Where?"},
        {"role": "assistant", "content": "Here."},
    ]
    # a conversation that has its own system message keeps it
    kept = load_text_dataset([CHAT], system="Other").rows[0]
    assert kept["messages"][0]["content"] == "You are Rex."


def test_chosen_rejected_rows_become_together_preference_rows() -> None:
    data = load_text_dataset([{"prompt": "Say hi", "chosen": "Hello, citizen.", "rejected": "whatever"}])
    assert data.format == "preference"
    assert data.rows == [DPO]


def test_every_bad_line_is_reported_with_its_number_and_field(tmp_path: Path) -> None:
    lines: list[Any] = [
        CHAT,  # 1 ok
        {"messages": [{"role": "user", "content": "no answer"}]},  # 2 no assistant
        "{not json",  # 3
        {"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]},  # 4 bad role
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]},  # 5 content
        {"foo": "bar"},  # 6 unknown
        {"text": "plain"},  # 7 other format
        [1, 2],  # 8 not an object
    ]
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(path)
    problems = {(line, field) for line, field, _ in caught.value.problems}
    assert problems == {
        (2, "messages"),
        (3, "(line)"),
        (4, "messages[1].role"),
        (4, "messages"),  # no assistant turn either
        (5, "messages[0].content"),
        (6, "(row)"),
        (7, "(row)"),
        (8, "(line)"),
    }
    text = str(caught.value)
    assert len({line for line, _ in problems}) == 7
    assert str(path) in text and "line 2: messages" in text and "line 8: (line)" in text
    assert "needs at least one assistant message" in text


def test_conversation_order_and_dpo_shape_are_checked() -> None:
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "late"},
                {"role": "assistant", "content": "b"},
            ]
        },
    ]
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(rows)
    fields = [(line, field) for line, field, _ in caught.value.problems]
    assert (1, "messages[1].role") in fields and (1, "messages") in fields
    assert (2, "messages[1].role") in fields

    bad_dpo = [
        dict(DPO, preferred_output=[{"role": "user", "content": "x"}]),
        dict(DPO, non_preferred_output="nope"),
        dict(
            DPO, input={"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
        ),
    ]
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(bad_dpo, method="dpo")
    fields = [(line, field) for line, field, _ in caught.value.problems]
    assert fields == [
        (1, "preferred_output[0].role"),
        (2, "non_preferred_output"),
        (3, "input.messages[1].role"),
    ]


def test_csv_and_json_files(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('user,assistant\n"Hi, you",Hello\nNo answer,\n')
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(csv_path)
    # line 3 of the file: the header is line 1
    assert [(line, field) for line, field, _ in caught.value.problems] == [(3, "messages[1].content")]
    csv_path.write_text('prompt,completion\n"Hi, you",Hello\n')
    assert load_text_dataset(csv_path).rows == [{"prompt": "Hi, you", "completion": "Hello"}]

    json_path = tmp_path / "d.json"
    json_path.write_text(json.dumps([{"text": "a"}, {"text": ""}]))
    with pytest.raises(DatasetError) as caught:
        load_text_dataset(json_path)
    assert caught.value.problems == [(2, "text", "must not be empty")]


def test_method_must_suit_the_format_and_empty_or_missing_datasets_fail(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="method='dpo' trains on preference rows"):
        load_text_dataset([CHAT], method="dpo")
    with pytest.raises(InvalidArgument, match="method='sft'"):
        load_text_dataset([DPO], method="sft")
    with pytest.raises(DatasetError, match="no rows"):
        load_text_dataset(write_jsonl(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(InvalidArgument, match="does not exist"):
        load_text_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(InvalidArgument, match="not a single row"):
        load_text_dataset(CHAT)  # type: ignore[arg-type]


def test_token_counts_are_rough_but_proportional() -> None:
    assert count_tokens("") == 0 and count_tokens("abcd") == 1 and count_tokens("abcde") == 2
    short = load_text_dataset([{"text": "x" * 40}])
    long = load_text_dataset([{"text": "x" * 400}] * 3)
    assert short.estimate_tokens() == 10 and long.estimate_tokens() == 300
    chat_tokens = row_tokens(CHAT)
    assert chat_tokens == 3 * 4 + count_tokens("You are Rex.") + count_tokens("Hi") + count_tokens(
        "Hello, citizen."
    )
    # a preference row counts its prompt once per output
    assert row_tokens(DPO) == 2 * (4 + 2) + (4 + 4) + (4 + 2)


def test_an_existing_dataset_is_reused_as_is() -> None:
    data = TextDataset([{"text": "a"}], "text")
    assert load_text_dataset(data) is data
