"""Keys are resolved once (argument, environment, .env) and never shown."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from polyface.errors import MissingCredentials
from polyface.providers._base.secrets import Secret, redact
from polyface.providers.together import TogetherAdapter

KEY = "tgp_v1_SECRETVALUE_do_not_print_42"


def test_explicit_key_beats_environment_which_beats_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("TOGETHER_API_KEY=from-dotenv-key-123\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert TogetherAdapter().config.api_key().reveal() == "from-dotenv-key-123"  # type: ignore[union-attr]
    monkeypatch.setenv("TOGETHER_API_KEY", "from-env-key-456")
    assert TogetherAdapter().config.api_key().reveal() == "from-env-key-456"  # type: ignore[union-attr]
    assert TogetherAdapter(api_key="explicit-key-789").config.api_key().reveal() == "explicit-key-789"  # type: ignore[union-attr]


def test_missing_key_fails_at_first_request_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    adapter = TogetherAdapter()  # constructing never fails for lack of a key
    with pytest.raises(MissingCredentials) as info:
        adapter.text.generate(model="m", messages="hi")
    assert "TOGETHER_API_KEY" in str(info.value)
    assert ".env" in str(info.value)


def test_key_is_resolved_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOGETHER_API_KEY", "first-key-abcdef")
    adapter = TogetherAdapter()
    first = adapter.config.api_key()
    monkeypatch.setenv("TOGETHER_API_KEY", "second-key-abcdef")
    assert adapter.config.api_key() is first


def test_secret_never_prints_and_cannot_be_pickled() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret) and KEY not in str(secret) and KEY not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    adapter = TogetherAdapter(api_key=KEY)
    assert (
        KEY not in repr(adapter) and KEY not in repr(adapter.config) and KEY not in repr(vars(adapter.config))
    )


def test_redact_removes_known_keys_and_key_shaped_tokens() -> None:
    Secret(KEY)
    assert KEY not in redact(f"Invalid API key provided: {KEY}.")
    assert "Bearer ***" in redact("Authorization: Bearer abcdefghijklmnop1234")
    assert redact("sk-proj-ABCDEFGHIJKLMNOPQRST was rejected") == "*** was rejected"
    assert redact("nothing secret here") == "nothing secret here"


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    Secret(KEY)
    from polyface.providers._base.telemetry import get_logger

    log = get_logger("polyface.test")
    with caplog.at_level(logging.DEBUG, logger="polyface"):
        log.warning("the vendor said %s", f"bad key {KEY}")
        try:
            raise ValueError(f"boom {KEY}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "bad key ***" in text
    assert KEY not in text
