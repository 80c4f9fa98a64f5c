"""Shared fixtures.

* Every test runs in its own empty temporary directory, without any provider key or base URL in the
  environment, so no real ``.env`` file or key is ever picked up.
* ``fake_together`` / ``fake_openai`` / ``fake_anthropic``: a running fake of that vendor's API, reset for the
  test. One server per vendor serves the whole session (starting and stopping uvicorn costs ~0.2 s; a reset
  costs microseconds). Every request it records during the test must validate against the vendor's OpenAPI
  spec (``tests/<vendor>_spec.py``, built on ``spec_check.py``); otherwise the test fails with the list of
  problems. Mark a test that sends invalid requests on purpose with
  ``@pytest.mark.together_spec_exempt(reason="...")`` (it exempts every fake in that test).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from anthropic_spec import ANTHROPIC
from openai_spec import OPENAI
from polyface.testing.fake_together import FakeServer, FakeTogether, RecordedRequest
from spec_check import VendorSpec
from together_spec import TOGETHER

# reliability._secret_sweep: for the whole session, every log record (DEBUG too), exception, SQL statement,
# server response and CLI output is swept for API keys; the last item (secret-sweep) fails on a leak.
pytest_plugins = ["pytester", "reliability._secret_sweep"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "together_spec_exempt(reason): the requests the fake_* fixtures record in this test are not "
        "checked against the vendor's OpenAPI spec (for tests that send invalid requests on purpose)",
    )


@pytest.fixture(scope="session")
def local_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: what the local provider rebuilds from shipped models (the
    safetensors copy of SmolLM2) is built once, not per test."""
    return tmp_path_factory.mktemp("polyface-cache")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local_cache_dir: Path) -> None:
    monkeypatch.setenv("POLYFACE_HOME", str(tmp_path / "polyface-home"))
    monkeypatch.setenv("POLYFACE_CACHE_DIR", str(local_cache_dir))
    for name in (
        "TOGETHER_API_KEY",
        "TOGETHER_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "POLYFACE_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class _SpecCheck:
    """Validates the requests a fake recorded, each once (after the test body, and again at teardown)."""

    def __init__(self, fake: FakeServer, spec: VendorSpec, exempt: bool) -> None:
        self.fake = fake
        self.spec = spec
        self.exempt = exempt
        self.checked = 0

    def problems(self) -> list[str]:
        requests: list[RecordedRequest] = self.fake.requests
        new = requests[self.checked :]
        self.checked = len(requests)
        if self.exempt:
            return []
        return self.spec.requests_problems(new)

    def fail_on_problems(self, when: str) -> None:
        problems = self.problems()
        if problems:
            pytest.fail(
                f"requests to the fake {self.spec.name} server {when} do not match {self.spec.name}'s "
                "OpenAPI spec:\n" + "\n".join(problems),
                pytrace=False,
            )


_SPEC_CHECKS = pytest.StashKey[list[_SpecCheck]]()


def _serve(cls: type[FakeServer], spec: VendorSpec) -> Iterator[FakeServer]:
    _ = spec.loaded  # load the spec up front rather than inside the first test
    fake = cls()
    fake.start()
    yield fake
    fake.stop()


def _fresh(fake: FakeServer, spec: VendorSpec, request: pytest.FixtureRequest) -> _SpecCheck:
    if not fake.running:  # a test stopped it
        fake.start()
    fake.reset()
    fake.models = fake.default_catalog()
    fake.api_key = fake.default_api_key
    fake.strict_models = False
    exempt = request.node.get_closest_marker("together_spec_exempt") is not None
    check = _SpecCheck(fake, spec, exempt=exempt)
    request.node.stash.setdefault(_SPEC_CHECKS, []).append(check)
    return check


def _vendor_fixtures(name: str, server_class: Callable[[], type[FakeServer]], spec: VendorSpec) -> None:
    """Define ``fake_<name>`` (reset per test, requests checked against ``spec``) over a session server."""

    @pytest.fixture(scope="session", name=f"_fake_{name}_server")
    def server() -> Iterator[FakeServer]:
        yield from _serve(server_class(), spec)

    @pytest.fixture(name=f"fake_{name}")
    def fake(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
        running: FakeServer = request.getfixturevalue(f"_fake_{name}_server")
        check = _fresh(running, spec, request)
        yield running
        check.fail_on_problems("during teardown")

    globals()[f"_fake_{name}_server"] = server
    globals()[f"fake_{name}"] = fake


def _fake_openai_class() -> type[FakeServer]:
    from polyface.testing.fake_openai import FakeOpenAI

    return FakeOpenAI


def _fake_anthropic_class() -> type[FakeServer]:
    from polyface.testing.fake_anthropic import FakeAnthropic

    return FakeAnthropic


# fake_together, fake_openai, fake_anthropic; fake_compatible: a generic OpenAI-compatible server (vLLM-like).
_vendor_fixtures("together", lambda: FakeTogether, TOGETHER)
_vendor_fixtures("openai", _fake_openai_class, OPENAI)
_vendor_fixtures("anthropic", _fake_anthropic_class, ANTHROPIC)
_vendor_fixtures("compatible", lambda: FakeServer, OPENAI)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # Check right after the test body so that a spec violation fails the test itself (not only its teardown).
    yield
    for check in item.stash.get(_SPEC_CHECKS, []):
        check.fail_on_problems("in this test")


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Any]:
    """A ``LocalAdapter`` on a fresh data folder (models loaded earlier in the session are reused)."""
    from polyface import LocalAdapter

    adapter = LocalAdapter(data_dir=tmp_path / "local-data")
    yield adapter
    adapter.close()


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty persona database: a SQLite file, and a new PostgreSQL database (127.0.0.1:5432)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'personas.db'}"
        return
    import uuid

    import psycopg

    name = f"pf_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def studio(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """A ``Studio`` on a fresh database (SQLite and PostgreSQL) with its data folder in the test's tmp."""
    from polyface.persona.studio import Studio

    s = Studio(database_url, data_dir=tmp_path / "studio")
    yield s
    s.close()
