"""No API key in any log, exception, database row, file, CLI output or HTTP response.

Two layers:

* the session-wide sweep (``_secret_sweep.py``, enabled from ``tests/conftest.py``) watches every log record
  (DEBUG too), exception, SQL statement, server response and CLI output of the whole suite;
  :func:`test_the_sweep_catches_a_key_in_every_channel` proves it sees each of those channels;
* the tests below drive each error path with a distinctive key (vendors that echo the key back in their
  error bodies, bad keys, transport failures, the CLI, the server, a training run) and assert, channel by
  channel, that the key never shows; each runs inside ``SWEEP.probe()`` too.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, text

import polyface
from polyface import OpenAIAdapter, TogetherAdapter, errors
from polyface.errors import ConfigurationError, InvalidArgument, PolyfaceError
from polyface.persona.studio import Studio
from polyface.providers._base.secrets import Secret
from polyface.testing.fake_together import FakeServer

pytestmark = pytest.mark.reliability

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
MODELS = {
    "together": CHAT,
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "compatible": CHAT,
}


def distinctive(prefix: str = "sk-sweep") -> str:
    return f"{prefix}-{secrets.token_hex(16)}"


def sweep(request: pytest.FixtureRequest) -> Any:
    plugin = request.config.pluginmanager.get_plugin("reliability._secret_sweep")
    if plugin is None:
        pytest.fail("the session-wide secret sweep is not enabled: tests/conftest.py must list it")
    return plugin.SWEEP


def chain(exc: BaseException | None) -> str:
    """Everything an exception chain could print: each link's text, repr and attributes."""
    parts = []
    while exc is not None:
        parts += [str(exc), repr(exc), repr(getattr(exc, "__dict__", {})), repr(exc.args)]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


@contextmanager
def nothing_leaks(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, *keys: str
) -> Iterator[None]:
    """Within the block: every logger at DEBUG into ``caplog``, and the sweep's probe; after it, neither
    holds any of ``keys``."""
    with sweep(request).probe() as found, caplog.at_level(logging.DEBUG):
        yield
    for key in keys:
        assert key not in caplog.text, "a key reached a log handler"
        assert not any(key in r.getMessage() for r in caplog.records)
    assert not found, "\n".join(f"{f.what} in {f.channel}: {f.snippet}" for f in found)
    assert len(caplog.records) > 0  # the block did log (httpx, httpcore, polyface): the check saw something


# ---- the sweep itself --------------------------------------------------------------------------------


def test_the_sweep_catches_a_key_in_every_channel(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient
    from typer import Typer
    from typer.testing import CliRunner

    from polyface.server.app import create_app

    key = distinctive("sk-planted")
    Secret(key)  # what every adapter does with its key
    gateway_shaped = "pf-" + secrets.token_urlsafe(32)
    assert len(gateway_shaped) == 46
    cli = Typer()

    @cli.command()
    def show() -> None:
        print(f"the key is {key}")

    with (
        Studio(f"sqlite:///{tmp_path / 'p.db'}", data_dir=tmp_path / "p") as studio,
        sweep(request).probe() as found,
    ):
        logging.getLogger("some.library").debug("a DEBUG line no handler shows: %s", key)
        logging.getLogger("another.library").info("a gateway key %s", gateway_shaped)
        InvalidArgument(f"an error made with {key} in it")
        with create_engine("sqlite://").connect() as conn:
            conn.execute(text("SELECT :value"), {"value": key})
        app = create_app(studio)
        app.add_api_route("/leak", lambda: {"key": key})
        assert TestClient(app).get("/leak").status_code == 200
        assert key in CliRunner().invoke(cli, []).output
    assert key not in caplog.text  # the planted DEBUG record reached no handler: pytest saw what it saw
    kinds = {(f.channel, f.what) for f in found}
    assert {c for c, _ in kinds} == {
        "a log record",
        "an exception",
        "a database statement",
        "an HTTP response",
        "CLI output",
    }, kinds
    assert ("a log record", "a gateway key (pf-...)") in kinds
    assert all("<KEY>" in f.snippet and key not in f.snippet for f in found)  # the report hides it too


# ---- provider error paths ----------------------------------------------------------------------------


def _adapter(vendor: str, fake: FakeServer, key: str, **options: Any) -> Any:
    if vendor == "compatible":
        return polyface.provider("vllm", base_url=fake.base_url, api_key=key, max_retries=0, **options)
    return polyface.provider(vendor, base_url=fake.base_url, api_key=key, max_retries=0, **options)


def _echo(key: str) -> dict[str, Any]:
    other = "sk-proj-" + secrets.token_hex(20)  # someone else's key: never registered, redacted by its shape
    return {
        "error": {
            "message": f"Incorrect API key provided: {key}. Yours is not {other}.",
        }
    }


@pytest.mark.parametrize("vendor", ["together", "openai", "anthropic", "compatible"])
@pytest.mark.together_spec_exempt(reason="the echo faults answer before any work")
def test_provider_errors_never_show_the_key(
    vendor: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    fake: FakeServer = request.getfixturevalue(f"fake_{vendor}")
    key = distinctive()
    model = MODELS[vendor]
    raised: list[BaseException] = []

    def attempt(call: Any) -> None:
        try:
            call()
        except PolyfaceError as exc:
            raised.append(exc)
        else:
            pytest.fail("the call should have failed")

    with nothing_leaks(request, caplog, key):
        adapter = _adapter(vendor, fake, key)
        text_ = adapter.text
        attempt(lambda: text_.generate(model=model, messages="hi"))  # wrong key: 401
        fake.api_key = key
        for status in (400, 401, 429, 500):  # the vendor echoes the key back in its error body
            fake.fail("*", status=status, body=_echo(key))
            attempt(lambda: text_.generate(model=model, messages="hi"))
        fake.fail("*", status=500, body=f"upstream said: bad key {key}")  # as text/plain
        attempt(lambda: text_.generate(model=model, messages="hi"))
        fake.fail("*", status=403, body=_echo(key))
        attempt(lambda: list(text_.stream(model=model, messages="hi")))
        fake.drop_stream(after_chunks=1)
        attempt(lambda: list(text_.stream(model=model, messages="a few words to stream")))
        unreachable = _adapter(vendor, fake, key, timeout=2)
        unreachable.config.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
        attempt(lambda: unreachable.text.generate(model=model, messages="hi"))
        adapter.close()
    assert len(raised) == 9
    kinds = {type(e).__name__ for e in raised}
    assert kinds >= {
        "AuthenticationError",
        "InvalidRequest",
        "RateLimited",
        "ServerError",
        "PermissionDenied",
    }
    for exc in raised:
        assert key not in chain(exc)
        assert "sk-proj-" not in str(exc)
    echoed = next(e for e in raised if isinstance(e, errors.ProviderError) and e.status == 400)
    assert "Incorrect API key provided: ***" in str(echoed)  # the message is kept, the key masked


@pytest.mark.parametrize("bad", ["\n", "\r", "\x00", "\x7f", "é"])
def test_a_key_no_header_can_carry_is_refused_without_showing_it(
    bad: str, fake_together: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Sent, such a key fails inside httpx/h11 with its text in the error (``Illegal header value
    b'Bearer sk-...'``); polyface refuses it first, naming where it came from, never showing it."""
    tail = secrets.token_hex(12)
    key = f"sk-sweep-{secrets.token_hex(6)}{bad}{tail}"
    explicit = bad == "\x00"  # the environment cannot hold a NUL
    if not explicit:
        monkeypatch.setenv("TOGETHER_API_KEY", key)
    source = "api_key argument" if explicit else "TOGETHER_API_KEY environment variable"
    with (
        TogetherAdapter(api_key=key if explicit else None, base_url=fake_together.base_url) as together,
        pytest.raises(ConfigurationError, match=source) as info,
    ):
        together.text.generate(model=CHAT, messages="hi")
    assert tail not in chain(info.value) and key[:15] not in chain(info.value)
    assert "position 22" in str(info.value)
    assert fake_together.requests == []


def test_adapters_and_configs_never_print_or_pickle_the_key(tmp_path: Path) -> None:
    from polyface.providers.openai_compatible import SERVERS
    from polyface.providers.registry import PROVIDERS

    key = distinctive()
    names = [n for n in PROVIDERS if n != "local"] + sorted(SERVERS)
    assert len(names) >= 5
    for name in names:
        adapter = polyface.provider(name, api_key=key, base_url="http://127.0.0.1:9/v1")
        config = adapter.config
        assert config.api_key().reveal() == key
        shown = [
            repr(adapter),
            str(adapter),
            repr(config),
            str(config),
            repr(vars(config)),
            repr(config.api_key()),
        ]
        shown += [repr(config.auth_headers().keys())]
        assert not any(key in s for s in shown), name
        with pytest.raises((TypeError, pickle.PicklingError)) as info:
            pickle.dumps(adapter)
        assert key not in chain(info.value), name
        with pytest.raises(TypeError):
            pickle.dumps(config.api_key())


# ---- the CLI -----------------------------------------------------------------------------------------


@pytest.mark.together_spec_exempt(reason="the echo faults answer before any work")
def test_cli_errors_never_show_the_key(
    fake_together: FakeServer, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    from typer.testing import CliRunner

    from polyface.cli.app import app

    key = distinctive()
    runner = CliRunner(env={"COLUMNS": "200"})
    common = ["--api-key", key, "--base-url", fake_together.base_url]
    outputs = []
    with nothing_leaks(request, caplog, key):
        wrong = runner.invoke(app, ["chat", "together", CHAT, "hi", *common])  # 401: not the fake's key
        fake_together.api_key = key
        fake_together.fail("*", status=400, body=_echo(key), times=4)
        echoed = runner.invoke(app, ["chat", "together", CHAT, "hi", "--no-stream", *common])
        streamed = runner.invoke(app, ["chat", "together", CHAT, "hi", *common])
        models = runner.invoke(app, ["models", "together", "--refresh", *common])
        outputs = [wrong, echoed, streamed, models]
    for result in outputs:
        assert result.exit_code != 0, result.output
        assert key not in result.output + chain(result.exception)
    assert "***" in echoed.output


# ---- the server ------------------------------------------------------------------------------------


@pytest.mark.together_spec_exempt(reason="the echo faults answer before any work")
def test_server_errors_and_metrics_never_show_the_key(
    fake_together: FakeServer,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from polyface.server.app import create_app
    from polyface.server.auth import create_key

    key = distinctive()
    fake_together.api_key = key
    providers = {"together": TogetherAdapter(api_key=key, base_url=fake_together.base_url, max_retries=0)}
    bodies: list[str] = []
    with (
        Studio(f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path / "s", providers=providers) as studio,
        nothing_leaks(request, caplog, key),
    ):
        _, gateway = create_key(studio, "sweep")
        client = TestClient(create_app(studio), raise_server_exceptions=False)
        auth = {"Authorization": f"Bearer {gateway}"}
        chat = {"model": f"together/{CHAT}", "messages": [{"role": "user", "content": "hi"}]}
        for status in (400, 401, 429, 500):
            fake_together.fail("*", status=status, body=_echo(key))
            answer = client.post("/v1/chat/completions", json=chat, headers=auth)
            assert answer.status_code >= 400, answer.text
            bodies.append(answer.text + repr(answer.headers))
        fake_together.fail("*", status=400, body=_echo(key))
        streamed = client.post("/v1/chat/completions", json={**chat, "stream": True}, headers=auth)
        bodies.append(streamed.text)
        fake_together.drop_stream(after_chunks=1)
        dropped = client.post("/v1/chat/completions", json={**chat, "stream": True}, headers=auth)
        bodies.append(dropped.text)
        wrong = client.post("/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"})
        assert wrong.status_code == 401
        bodies.append(wrong.text)
        bodies.append(client.get("/metrics").text)
        bodies.append(client.get("/api/personas/nobody").text)
    assert all(key not in body and gateway not in body for body in bodies)
    assert "error" in bodies[0] and "***" in bodies[0]  # the vendor's message is passed on, masked


# ---- the database ------------------------------------------------------------------------------------


def _every_row(engine: Any) -> list[str]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return [repr(tuple(row)) for table in meta.sorted_tables for row in conn.execute(select(table))]


def _every_file(folder: Path) -> Iterator[bytes]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


def test_a_vendor_training_run_stores_no_key(
    database_url: str,
    tmp_path: Path,
    fake_together: FakeServer,
    fake_openai: FakeServer,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json
    from importlib.resources import files

    together_key, openai_key = distinctive(), distinctive()
    fake_together.api_key, fake_openai.api_key = together_key, openai_key
    rows = [
        json.loads(line)
        for line in (files("polyface.samples") / "rex_dialogue.jsonl").read_text().splitlines()
    ]
    with nothing_leaks(request, caplog, together_key, openai_key):
        studio = Studio(
            database_url,
            data_dir=tmp_path / "studio",
            providers={
                "together": TogetherAdapter(api_key=together_key, base_url=fake_together.base_url),
                "openai": OpenAIAdapter(api_key=openai_key, base_url=fake_openai.base_url),
            },
        )
        with studio:
            rex = studio.personas.create("rex", description="A gruff driver.")
            rex.samples.add_text(rows[:20])
            runs = rex.avatar.train(
                rex.avatar.plan(text="together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"),
                budget_usd=100,
            )
            infos = runs.wait(poll_interval=0.01, timeout=60)
            assert [i.status for i in infos] == ["succeeded"], [i.error for i in infos]
            rex.set_avatar(runs)
            fake_together.fail("/v1/fine-tunes", status=400, body=_echo(together_key))
            failed = rex.avatar.train(
                rex.avatar.plan(text="together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"),
                budget_usd=100,
            ).wait(poll_interval=0.01, timeout=60)
            assert failed[0].status == "failed" and failed[0].error  # the vendor's error is stored...
    engine = create_engine(database_url)
    try:
        stored = _every_row(engine)
    finally:
        engine.dispose()
    assert len(stored) > 20
    for key in (together_key, openai_key):
        assert not any(key in row for row in stored)  # ...masked, like every row
        assert not any(key.encode() in data for data in _every_file(tmp_path / "studio"))


def test_gateway_keys_are_hashed_at_rest(studio: Studio) -> None:
    from polyface.server.auth import create_key, list_keys, verify_key

    info, secret = create_key(studio, "ops", rate_limit_rpm=5)
    assert verify_key(studio, secret) is not None
    with studio.db.engine.connect() as conn:
        api_keys = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM api_keys"))]
    assert len(api_keys) == 1
    assert api_keys[0]["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert api_keys[0]["prefix"] == secret[:11] == info.prefix  # only "pf-" and 8 characters stay readable
    stored = _every_row(studio.db.engine)
    assert any(info.prefix in row for row in stored)
    assert not any(secret in row or secret[11:] in row for row in stored)
    assert secret not in repr(list_keys(studio)) and secret not in repr(info)


# ---- who may reach the server -------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20"])
def test_an_app_on_another_host_refuses_to_start_without_a_key(host: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from polyface.server.app import create_app
    from polyface.server.auth import create_key
    from polyface.server.settings import ServerSettings

    with Studio(f"sqlite:///{tmp_path / 'h.db'}", data_dir=tmp_path / "h") as studio:
        with pytest.raises(ConfigurationError, match="polyface keys create"):
            create_app(studio, ServerSettings(host=host))
        create_app(studio, ServerSettings(host="127.0.0.2"))  # loopback: no key needed
        _, secret = create_key(studio, "ops")
        with pytest.raises(ConfigurationError, match="require_keys=False"):
            create_app(studio, ServerSettings(host=host, require_keys=False))
        client = TestClient(create_app(studio, ServerSettings(host=host)), raise_server_exceptions=False)
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_serve_refuses_another_host_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from polyface.cli.app import app

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: served.append((application, kw)))
    monkeypatch.setenv("POLYFACE_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    runner = CliRunner()
    refused = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert refused.exit_code != 0 and "polyface keys create" in refused.output and served == []
    assert runner.invoke(app, ["keys", "create", "ops"]).exit_code == 0
    assert runner.invoke(app, ["serve", "--host", "0.0.0.0"]).exit_code == 0
    assert len(served) == 1 and served[0][1]["host"] == "0.0.0.0"


def test_metrics_beyond_loopback_need_a_key_and_health_does_not(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from polyface.server.app import create_app
    from polyface.server.auth import create_key
    from polyface.server.settings import ServerSettings

    with Studio(f"sqlite:///{tmp_path / 'm.db'}", data_dir=tmp_path / "m") as studio:
        _, secret = create_key(studio, "prometheus")
        client = TestClient(create_app(studio, ServerSettings(host="0.0.0.0")))
        refused = client.get("/metrics")
        assert refused.status_code == 401 and "POLYFACE_METRICS_PUBLIC" in refused.json()["error"]["message"]
        assert client.get("/metrics", headers={"Authorization": "Bearer pf-not-a-key"}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
        assert scraped.status_code == 200 and "polyface_http_requests_total" in scraped.text
        assert client.get("/healthz").status_code == 200
        public = TestClient(create_app(studio, ServerSettings(host="0.0.0.0", metrics_public=True)))
        assert public.get("/metrics").status_code == 200
        assert TestClient(create_app(studio)).get("/metrics").status_code == 200  # loopback: open
