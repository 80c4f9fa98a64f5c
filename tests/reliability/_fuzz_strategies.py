"""Hypothesis strategies and settings shared by the property-based reliability tests.

``json_values`` draws any JSON value (deep, wide, unicode keys); the ``*_row`` strategies draw rows that a
dataset validator must accept; ``FUZZ`` is the settings profile (bounded examples, no deadline: CI runs on
two shared cores, no example database written into the source tree).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""The default: ~120 examples a property (a few seconds each)."""

SOME = settings(FUZZ, max_examples=50)
"""For properties whose examples each cost a round trip to a fake vendor and a check against its spec."""

FEW = settings(FUZZ, max_examples=30)
"""For properties whose examples cost a request through the server or a file on disk."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
"""Any JSON value."""

ROLE_WORDS = ("system", "user", "assistant", "tool", "developer", "function", "", "USER", None, 3, [])
keys_of_rows = st.sampled_from(
    [
        "messages",
        "prompt",
        "completion",
        "text",
        "user",
        "assistant",
        "input",
        "output",
        "chosen",
        "rejected",
        "preferred_output",
        "non_preferred_output",
        "system",
        "weight",
    ]
)

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: bool(s.strip())
)
"""Non-blank text (any unicode but lone surrogates, which JSON as UTF-8 cannot carry)."""


@st.composite
def dataset_like(draw: st.DrawFn) -> Any:
    """A value shaped almost like a dataset row: the right keys, random values (mostly plausible)."""
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(ROLE_WORDS), "content": words | json_values},
        optional={"weight": st.sampled_from([0, 1, 2, "1", None, [1]]), "name": json_values},
    )
    value = st.one_of(words, json_values, st.lists(message | json_values, max_size=5))
    keys = draw(st.lists(keys_of_rows, min_size=1, max_size=4, unique=True))
    row: dict[str, Any] = {key: draw(value) for key in keys}
    if "input" in row and draw(st.booleans()):
        row["input"] = {"messages": draw(st.lists(message | json_values, max_size=4))}
    return row


@st.composite
def conversation(draw: st.DrawFn, *, last_user: bool = False) -> list[dict[str, Any]]:
    """Valid alternating messages: an optional system message, then user/assistant turns (ending with
    the user's turn when ``last_user``: a preference row's input)."""
    out: list[dict[str, Any]] = []
    if draw(st.booleans()):
        out.append({"role": "system", "content": draw(words)})
    turns = draw(st.integers(min_value=1, max_value=4))
    for turn in range(turns):
        out.append({"role": "user", "content": draw(words)})
        if last_user and turn == turns - 1:
            break
        message: dict[str, Any] = {"role": "assistant", "content": draw(words)}
        if not last_user and draw(st.booleans()):
            message["weight"] = draw(st.sampled_from([0, 1]))
        out.append(message)
    return out


def conversation_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda m: {"messages": m}, conversation())


def instruction_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda p, c: {"prompt": p, "completion": c}, words, words)


def text_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda t: {"text": t}, words)


def preference_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda m, good, bad: {
            "input": {"messages": m},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}],
        },
        conversation(last_user=True),
        words,
        words,
    )


def persona_dialogue_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda u, a: {"user": u, "assistant": a}, words, words),
        st.builds(lambda u, a: {"input": u, "output": a}, words, words),
    )


def persona_preference_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda p, c, r: {"prompt": p, "chosen": c, "rejected": r}, words, words, words)


FORMATS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "conversation": conversation_row() | persona_dialogue_row(),
    "instruction": instruction_row(),
    "text": text_row(),
    "preference": preference_row() | persona_preference_row(),
}
"""Valid rows of each dataset format (persona shapes included: they convert to the vendor's)."""


@st.composite
def valid_dataset(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """``(format, rows)``: 1-8 valid rows of one format."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    return fmt, draw(st.lists(FORMATS[fmt], min_size=1, max_size=8))
