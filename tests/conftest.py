"""Shared fixtures.

* Every test runs in its own empty temporary directory, without ``TOGETHER_API_KEY`` / ``TOGETHER_BASE_URL``
  in the environment, so no real ``.env`` file or key is ever picked up.
* ``fake_together``: a running :class:`~polyface.testing.fake_together.FakeTogether`, reset for the test. One
  server serves the whole session (starting and stopping uvicorn costs ~0.2 s; a reset costs microseconds).
  Every request it records during the test must validate against Together's OpenAPI spec
  (``tests/together_spec.py``); otherwise the test fails with the list of problems. Mark a test that sends
  invalid requests on purpose with ``@pytest.mark.together_spec_exempt(reason="...")``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from polyface.testing.fake_together import DEFAULT_API_KEY, FakeTogether, RecordedRequest, default_models
from together_spec import together_requests_problems, together_spec

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "together_spec_exempt(reason): the requests the fake_together fixture records in this test are not "
        "checked against Together's OpenAPI spec (for tests that send invalid requests on purpose)",
    )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class _SpecCheck:
    """Validates the requests a fake recorded, each once (after the test body, and again at teardown)."""

    def __init__(self, fake: FakeTogether, exempt: bool) -> None:
        self.fake = fake
        self.exempt = exempt
        self.checked = 0

    def problems(self) -> list[str]:
        requests: list[RecordedRequest] = self.fake.requests
        new = requests[self.checked :]
        self.checked = len(requests)
        if self.exempt:
            return []
        return together_requests_problems(new)

    def fail_on_problems(self, when: str) -> None:
        problems = self.problems()
        if problems:
            pytest.fail(
                f"requests to the fake Together server {when} do not match Together's OpenAPI spec:\n"
                + "\n".join(problems),
                pytrace=False,
            )


_SPEC_CHECK = pytest.StashKey[_SpecCheck]()


@pytest.fixture(scope="session")
def _fake_together_server() -> Iterator[FakeTogether]:
    together_spec()  # load the spec up front rather than inside the first test
    fake = FakeTogether()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_together(
    _fake_together_server: FakeTogether, request: pytest.FixtureRequest
) -> Iterator[FakeTogether]:
    """A running fake Together API (``base_url``, ``api_key``, fault injection, recorded ``requests``)."""
    fake = _fake_together_server
    if not fake.running:  # a test stopped it
        fake.start()
    fake.reset()
    fake.models = default_models()
    fake.api_key = DEFAULT_API_KEY
    fake.strict_models = False
    check = _SpecCheck(fake, exempt=request.node.get_closest_marker("together_spec_exempt") is not None)
    request.node.stash[_SPEC_CHECK] = check
    yield fake
    check.fail_on_problems("during teardown")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # Check right after the test body so that a spec violation fails the test itself (not only its teardown).
    yield
    check = item.stash.get(_SPEC_CHECK, None)
    if check is not None:
        check.fail_on_problems("in this test")
