"""``polyface keys create|list|revoke`` and ``polyface serve``'s refusal to listen beyond this machine
without a gateway key (uvicorn is replaced by a recorder: no server starts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polyface.cli.app import app
from polyface.cli.serve import is_loopback

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Iterator[Any]:
    base = ["--database", database_url, "--data-dir", str(tmp_path / "data")]

    def invoke(*args: str) -> Any:
        return runner.invoke(app, [*base, *args])

    yield invoke


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``uvicorn.run`` replaced: the calls are recorded, nothing listens."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    return calls


def _studio(database_url: str, tmp_path: Path) -> Any:
    from polyface.persona.studio import Studio

    return Studio(database_url, data_dir=tmp_path / "data")


def test_keys_create_list_revoke(cli: Any, database_url: str, tmp_path: Path) -> None:
    from polyface.server.auth import verify_key

    created = cli("keys", "create", "laptop", "--rpm", "30")
    assert created.exit_code == 0, created.output
    secret = created.output.split()[0]
    assert secret.startswith("pf-") and len(secret) >= 35
    assert "not shown again" in created.output
    with _studio(database_url, tmp_path) as studio:
        found = verify_key(studio, secret)
        assert found is not None and found.name == "laptop" and found.rate_limit_rpm == 30

    listed = cli("keys", "list")
    assert listed.exit_code == 0, listed.output
    assert "laptop" in listed.output and secret[:11] in listed.output and "active" in listed.output
    assert secret not in listed.output and "30" in listed.output

    again = cli("keys", "create", "laptop")
    assert again.exit_code == 1 and "already exists" in again.output and "Traceback" not in again.output

    revoked = cli("keys", "revoke", secret[:11])
    assert revoked.exit_code == 0, revoked.output
    assert "laptop" in revoked.output and "revoked" in revoked.output
    assert "revoked" in cli("keys", "list").output
    with _studio(database_url, tmp_path) as studio:
        assert verify_key(studio, secret) is None

    unknown = cli("keys", "revoke", "nope")
    assert unknown.exit_code == 1 and "no key named" in unknown.output


def test_keys_list_without_keys_says_how_to_make_one(cli: Any) -> None:
    listed = cli("keys", "list")
    assert listed.exit_code == 0 and "polyface keys create" in listed.output


def test_serve_refuses_other_hosts_without_a_key(cli: Any, uvicorn_calls: list[dict[str, Any]]) -> None:
    refused = cli("serve", "--host", "0.0.0.0", "--port", "8123")
    assert refused.exit_code == 1, refused.output
    assert "polyface keys create" in " ".join(refused.output.split())
    assert uvicorn_calls == []

    # on this machine only, it serves (and says /v1 needs a key)
    local = cli("serve", "--port", "8123")
    assert local.exit_code == 0, local.output
    assert "no gateway key yet" in local.output
    assert [(c["host"], c["port"]) for c in uvicorn_calls] == [("127.0.0.1", 8123)]

    # with a key, other hosts too; a revoked key does not count
    assert cli("keys", "create", "ci").exit_code == 0
    assert cli("keys", "revoke", "ci").exit_code == 0
    assert cli("serve", "--host", "0.0.0.0").exit_code == 1
    assert cli("keys", "create", "ci2").exit_code == 0
    served = cli("serve", "--host", "0.0.0.0", "--port", "8124")
    assert served.exit_code == 0, served.output
    assert [(c["host"], c["port"]) for c in uvicorn_calls[1:]] == [("0.0.0.0", 8124)]
    assert uvicorn_calls[1]["app"].state.settings.port == 8124


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "example.com", ""))
