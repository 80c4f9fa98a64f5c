"""The command line: version, providers, models and chat (against the Together fake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyface import __version__
from polyface.capability_table import markdown, render_into
from polyface.cli.app import app
from polyface.testing.fake_together import FakeTogether

runner = CliRunner(env={"COLUMNS": "200"})
CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"polyface {__version__}"


def test_providers_lists_capabilities_from_code() -> None:
    result = runner.invoke(app, ["providers"])
    assert result.exit_code == 0
    assert "together" in result.output and "fine_tuning.text" in result.output
    text_row = next(line for line in result.output.splitlines() if " text " in line)
    assert "yes" in text_row


def test_readme_capability_table_is_the_generated_one() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert markdown() in readme
    assert render_into(readme) == readme, "run: python -m polyface.capability_table --write README.md"


def test_models_and_chat_against_the_fake(fake_together: FakeTogether) -> None:
    common = ["--api-key", fake_together.api_key, "--base-url", fake_together.base_url]
    models = runner.invoke(app, ["models", "together", *common])
    assert models.exit_code == 0, models.output
    assert CHAT in models.output and "0.88" in models.output
    chat = runner.invoke(app, ["chat", "together", CHAT, "hello there", *common])
    assert chat.exit_code == 0, chat.output
    assert "Echo: hello there" in chat.output
    assert "tokens" in chat.output and "$" in chat.output
    plain = runner.invoke(app, ["chat", "together", CHAT, "again", "--no-stream", *common])
    assert "Echo: again" in plain.output


def test_chat_without_a_key_says_which_variable_to_set(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["chat", "together", CHAT, "hi"])
    assert result.exit_code == 1
    assert "TOGETHER_API_KEY" in result.output


def test_unknown_provider_is_a_clear_error() -> None:
    result = runner.invoke(app, ["models", "nosuch"])
    assert result.exit_code != 0
    assert "unknown provider 'nosuch'" in result.output


@pytest.mark.parametrize(
    ("provider", "fixture", "model"),
    [("openai", "fake_openai", "gpt-4o-mini"), ("anthropic", "fake_anthropic", "claude-sonnet-4-5")],
)
def test_chat_with_every_provider(
    provider: str, fixture: str, model: str, request: pytest.FixtureRequest
) -> None:
    fake = request.getfixturevalue(fixture)
    common = ["--api-key", fake.api_key, "--base-url", fake.base_url]
    result = runner.invoke(app, ["chat", provider, model, "who are you", *common])
    assert result.exit_code == 0, result.output
    assert "Echo: who are you" in result.output and "tokens" in result.output
    models = runner.invoke(app, ["models", provider, *common])
    assert models.exit_code == 0 and model.split("-")[0] in models.output
