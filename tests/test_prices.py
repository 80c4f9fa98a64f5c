"""The price tables shipped as data (polyface/providers/prices/<vendor>.json) and how costs use them."""

from __future__ import annotations

import datetime
import json
from importlib.resources import files

import pytest

from polyface.providers._base.catalog import load_price_table, price_for
from polyface.providers.openai import OpenAIAdapter
from polyface.testing.fake_openai import FakeOpenAI
from polyface.types.models import Pricing

TABLES = sorted(p.name for p in files("polyface.providers.prices").iterdir() if p.name.endswith(".json"))


def test_openai_ships_a_table() -> None:
    assert "openai.json" in TABLES


@pytest.mark.parametrize("name", TABLES)
def test_each_table_says_where_and_when_and_loads(name: str) -> None:
    data = json.loads(files("polyface.providers.prices").joinpath(name).read_text(encoding="utf-8"))
    assert isinstance(data["source"], str) and data["source"].strip()
    datetime.date.fromisoformat(data["as_of"])
    table = load_price_table(name.removesuffix(".json"))
    assert table and set(table) == set(data["models"])
    for model, price in table.items():
        values = [v for v in price.model_dump().values() if v is not None]
        assert all(v >= 0 for v in values) and any(v > 0 for v in values), f"{model} has no price"


def test_openai_table_prices_every_kind_of_usage() -> None:
    table = load_price_table("openai")
    assert table["gpt-4o-mini"].input_per_mtok < table["gpt-4o-mini"].output_per_mtok
    assert table["text-embedding-3-small"].input_per_mtok > 0
    assert table["dall-e-3"].per_image > 0
    assert table["whisper-1"].per_audio_second > 0
    assert table["tts-1"].per_million_characters > 0
    assert table["gpt-4o-mini"].finetune_per_mtok > 0


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # the older snapshot has its own, higher price
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest family wins, not gpt-4o
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "ft:gpt-4o-mini"),  # fine-tuned inference costs more
        ("ft:davinci-002:acme::xyz", "ft:davinci-002"),
        ("ft:gpt-3.5-turbo-0125:acme::q", "ft:gpt-3.5-turbo"),
    ],
)
def test_dated_and_fine_tuned_variants_are_priced(model: str, entry: str) -> None:
    table = load_price_table("openai")
    assert price_for(table, model) == table[entry]


def test_unknown_models_have_no_price() -> None:
    table = load_price_table("openai")
    assert price_for(table, "gpt-4o2") is None and price_for(table, "my-own-model") is None


def test_user_prices_win_over_the_table_and_the_catalog_is_fetched_once(fake_openai: FakeOpenAI) -> None:
    mine = Pricing(input_per_mtok=100.0, output_per_mtok=100.0)
    with OpenAIAdapter(
        api_key=fake_openai.api_key, base_url=fake_openai.base_url, pricing={"gpt-4o": mine}
    ) as openai:
        overridden = openai.text.generate(model="gpt-4o", messages="a b c")
        tabled = openai.text.generate(model="gpt-4o-2024-08-06", messages="a b c")
    assert overridden.cost == pytest.approx(overridden.usage.total_tokens * 100 / 1_000_000)
    assert tabled.cost == pytest.approx((3 * 2.5 + 4 * 10.0) / 1_000_000)
    assert sum(r.path == "/v1/models" for r in fake_openai.requests) == 1


def test_cached_prompt_tokens_are_billed_at_the_cache_price() -> None:
    from polyface.types.usage import Usage
    from polyface.wire.openai_chat import parse_usage

    usage = parse_usage(
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 9_000},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
    )
    assert usage is not None and usage.details == {"cached_input_tokens": 9000.0}
    gpt5 = load_price_table("openai")["gpt-5"]
    assert gpt5.cached_input_per_mtok == 0.125
    # 1,000 fresh tokens at $1.25/M + 9,000 cached at $0.125/M
    assert gpt5.cost(usage) == pytest.approx(1_000 * 1.25e-6 + 9_000 * 0.125e-6)
    assert gpt5.cost(Usage(input_tokens=10_000)) == pytest.approx(10_000 * 1.25e-6)
