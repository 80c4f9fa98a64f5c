"""The session-wide secret sweep: a pytest plugin (enabled from ``tests/conftest.py``) that watches every
channel a key could leak through while the whole suite runs, and fails the session's last test item
(``secret-sweep``) if any API key shows up.

What it watches, for the whole session:

* **logs**: every record of every logger at every level, DEBUG included (httpx, httpcore, uvicorn,
  starlette, the openai client, polyface...). ``Logger.isEnabledFor`` is made to say yes, so every record
  is made; the record goes through its logger's filters (polyface's redaction) and is swept, and then
  reaches the handlers only if the logger's real level lets it (pytest's ``caplog`` and log reports see
  exactly what they saw before). A few heavy non-network libraries (torch, transformers...) keep their
  real levels: their DEBUG paths are slow and never see a key.
* **exceptions**: every ``PolyfaceError`` made (its text and its attributes), every exception a test
  expects (``pytest.raises``: the whole ``__cause__``/``__context__`` chain) and every exception of a
  failed or xfailed test (the chain's messages, not the test's source lines).
* **database rows**: the statement and parameters of every SQL execution of every SQLAlchemy engine (so
  every row written, on SQLite and PostgreSQL).
* **HTTP responses** of polyface's server: every app ``create_app`` makes gets an outermost middleware that
  keeps each response's headers and (textual) body.
* **CLI output** of ``CliRunner.invoke`` (stdout and stderr), and every test's captured stdout/stderr.

The keys looked for: every value polyface ever wrapped in a ``Secret`` (every provider key, explicit, from
the environment or a ``.env``), every gateway key (plain text, taken when it is hashed: made by
``create_key`` or presented by a client), the fakes' default keys, and anything shaped like an OpenAI-style
(``sk-...``) or gateway (``pf-`` + 43 characters) key. A gateway key may appear where it is meant to be
shown once: the output of ``polyface keys create``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# Libraries that compute expensive debug output when DEBUG is on and never handle a key.
_REAL_LEVELS = (
    "torch",
    "transformers",
    "diffusers",
    "accelerate",
    "peft",
    "huggingface_hub",
    "safetensors",
    "numba",
    "matplotlib",
    "PIL",
    "sqlalchemy",  # its DEBUG logs repeat the SQL the engine hook below sees in full
    "asyncio",
    "filelock",
    "fsspec",
    "hypothesis",
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/]{8,}")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~+/")
_SHAPES = {
    "an OpenAI-style key (sk-...)": re.compile(r"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{16,}"),
    "a gateway key (pf-...)": re.compile(r"(?<![A-Za-z0-9_\-])pf-[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])"),
}
_PREFIX = 8
_MAX_TEXT = 1 << 20  # the first MiB of a text is swept (a response body, say)


@dataclass
class Finding:
    channel: str
    where: str
    what: str
    snippet: str


@dataclass
class Sweep:
    """The texts seen since the last scan, the keys known, and what was found."""

    secrets: set[str] = field(default_factory=set)
    gateway: set[str] = field(default_factory=set)
    pending: dict[tuple[str, str], str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    where: str = "session start"
    texts: int = 0
    scans: float = 0.0
    per_channel: dict[str, int] = field(default_factory=dict)
    _by_prefix: dict[str, list[str]] = field(default_factory=dict)
    _odd: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- keys ------------------------------------------------------------------------------------
    def add_secret(self, value: str, *, gateway: bool = False) -> None:
        if not isinstance(value, str) or len(value) < 8 or len(set(value)) < 4:
            return  # too short or too plain ("xxxxxxxx") to tell apart from ordinary text
        with self._lock:
            if value in self.secrets:
                return
            self.secrets.add(value)
            if gateway:
                self.gateway.add(value)
            if set(value) <= _TOKEN_CHARS:
                self._by_prefix.setdefault(value[:_PREFIX], []).append(value)
            else:
                self._odd.append(value)

    # ---- texts -----------------------------------------------------------------------------------
    def see(self, channel: str, text: str, *, allow_gateway: bool = False) -> None:
        if not text:
            return
        key = (channel + ("+gw" if allow_gateway else ""), text[:_MAX_TEXT])
        with self._lock:
            if key not in self.pending:
                self.pending[key] = self.where
                self.texts += 1
                self.per_channel[channel] = self.per_channel.get(channel, 0) + 1

    def scan(self) -> None:
        """Look for every known key and key shape in the texts seen since the last scan."""
        started = time.perf_counter()
        with self._lock:
            pending, self.pending = self.pending, {}
            by_prefix = dict(self._by_prefix)
            odd = list(self._odd)
        for (channel, text), where in pending.items():
            allow_gateway = channel.endswith("+gw")
            name = channel.removesuffix("+gw")
            for secret in self._known_in(text, by_prefix, odd):
                if allow_gateway and secret in self.gateway:
                    continue
                kind = "a gateway key" if secret in self.gateway else "a provider key"
                self._found(name, where, kind, text, secret)
            for kind, shape in _SHAPES.items():
                for match in shape.finditer(text):
                    if allow_gateway and kind.startswith("a gateway"):
                        continue
                    self._found(name, where, kind, text, match.group())
        self.scans += time.perf_counter() - started

    @staticmethod
    def _known_in(text: str, by_prefix: dict[str, list[str]], odd: list[str]) -> Iterable[str]:
        found: set[str] = set()
        for match in _TOKEN.finditer(text):
            token = match.group()
            for i in range(len(token) - _PREFIX + 1):
                candidates = by_prefix.get(token[i : i + _PREFIX])
                if candidates:
                    found.update(s for s in candidates if token.startswith(s, i))
        found.update(s for s in odd if s in text)
        return found

    def _found(self, channel: str, where: str, kind: str, text: str, secret: str) -> None:
        if sum(1 for f in self.findings if (f.channel, f.what, f.where) == (channel, kind, where)) >= 3:
            return
        at = text.find(secret)
        snippet = text[max(0, at - 120) : at + len(secret) + 120].replace(secret, "<KEY>")
        self.findings.append(Finding(channel, where, kind, snippet))

    @contextlib.contextmanager
    def probe(self) -> Iterator[list[Finding]]:
        """What leaks inside the block, kept apart from the session's findings (for the sweep's own
        tests, which plant leaks on purpose)."""
        self.scan()
        kept, self.findings = self.findings, []
        found: list[Finding] = []
        try:
            yield found
        finally:
            self.scan()
            found.extend(self.findings)
            self.findings = kept

    def summary(self) -> str:
        channels = ", ".join(f"{n} {c}" for c, n in sorted(self.per_channel.items(), key=lambda x: -x[1]))
        return (
            f"secret sweep: {self.texts} distinct texts ({channels}) swept against {len(self.secrets)} keys "
            f"in {self.scans:.2f} s; {len(self.findings)} leak(s)"
        )

    def report(self) -> str:
        lines = [
            f"{len(self.findings)} leak(s) of an API key found by the session-wide sweep "
            f"({self.texts} texts swept against {len(self.secrets)} keys):"
        ]
        for f in self.findings[:50]:
            lines.append(f"- {f.what} in {f.channel} during {f.where}: ...{f.snippet!r}...")
        return "\n".join(lines)


SWEEP = Sweep()


# ---- what is watched -----------------------------------------------------------------------------------


def _record_text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:
        text = f"{record.msg!r} % {record.args!r}"
    if record.exc_text:
        text += "\n" + record.exc_text
    elif record.exc_info and record.exc_info[1] is not None:
        text += "\n" + _chain(record.exc_info[1])
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


def _chain(exc: BaseException | None) -> str:
    """Every message of an exception's chain (not its traceback's source lines)."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(parts) < 20:
        seen.add(id(exc))
        try:
            parts.append(f"{type(exc).__name__}: {exc}")
            notes = getattr(exc, "__notes__", None)
            if notes:
                parts.extend(str(n) for n in notes)
        except Exception:
            parts.append(type(exc).__name__)
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _patch_logging() -> None:
    is_enabled_for = logging.Logger.isEnabledFor
    real: dict[str, bool] = {}

    def keeps_real_level(logger: logging.Logger) -> bool:
        name = logger.name
        known = real.get(name)
        if known is None:
            known = real[name] = name.split(".", 1)[0] in _REAL_LEVELS
        return known

    def sweeping_is_enabled_for(self: logging.Logger, level: int) -> bool:
        if self.disabled or keeps_real_level(self):
            return is_enabled_for(self, level)
        return True

    def sweeping_handle(self: logging.Logger, record: logging.LogRecord) -> None:
        if self.disabled:
            return
        passed = self.filter(record)
        if not passed:
            return
        if isinstance(passed, logging.LogRecord):
            record = passed
        SWEEP.see("a log record", _record_text(record))
        if is_enabled_for(self, record.levelno):
            self.callHandlers(record)

    logging.Logger.isEnabledFor = sweeping_is_enabled_for  # type: ignore[method-assign]
    logging.Logger.handle = sweeping_handle  # type: ignore[method-assign]


def _patch_errors() -> None:
    from polyface.errors import PolyfaceError

    def recording_init(self: BaseException, *args: Any) -> None:
        Exception.__init__(self, *args)
        with contextlib.suppress(Exception):
            SWEEP.see("an exception", f"{type(self).__name__}: {self}\n{vars(self)!r}")

    PolyfaceError.__init__ = recording_init  # type: ignore[method-assign]

    from _pytest.raises import RaisesExc

    exit_ = RaisesExc.__exit__

    def recording_exit(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        if exc_val is not None:
            SWEEP.see("an exception", _chain(exc_val))
        return exit_(self, exc_type, exc_val, exc_tb)

    RaisesExc.__exit__ = recording_exit  # type: ignore[method-assign]


def _patch_secrets() -> None:
    from polyface.providers._base import secrets

    register = secrets.register

    def recording_register(value: str) -> None:
        SWEEP.add_secret(value)
        register(value)

    secrets.register = recording_register
    for value in tuple(secrets._known):
        SWEEP.add_secret(value)
    from polyface.testing.fake_anthropic import FakeAnthropic
    from polyface.testing.fake_openai import FakeOpenAI
    from polyface.testing.fake_together import FakeTogether

    for fake in (FakeTogether, FakeOpenAI, FakeAnthropic):
        SWEEP.add_secret(fake.default_api_key)


def _patch_gateway_keys() -> None:
    with contextlib.suppress(ModuleNotFoundError):
        from polyface.server import auth

        hash_key = auth.hash_key

        def recording_hash_key(secret: str) -> str:
            SWEEP.add_secret(secret, gateway=True)
            return hash_key(secret)

        auth.hash_key = recording_hash_key


def _patch_database() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        SWEEP.see("a database statement", f"{statement}\n{parameters!r}")

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)


_TEXTUAL = (b"text/", b"application/json", b"application/problem+json", b"application/x-ndjson")


class _ResponseRecorder:
    """Outermost ASGI middleware of polyface's apps: keeps each response's headers and textual body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head: list[str] = []
        body: list[bytes] = []
        textual = True

        async def recording_send(message: Any) -> None:
            nonlocal textual
            if message["type"] == "http.response.start":
                head.append(f"{message['status']} {message.get('headers', [])!r}")
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                textual = kind == b"" or kind.startswith(_TEXTUAL)
            elif message["type"] == "http.response.body" and textual:
                body.append(bytes(message.get("body", b"")))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            text = b"".join(body).decode("utf-8", "replace")
            SWEEP.see(
                "an HTTP response", f"{scope.get('method')} {scope.get('path')} {''.join(head)}\n{text}"
            )


def _patch_server() -> None:
    with contextlib.suppress(ModuleNotFoundError):
        import polyface.server.app as server_app

        create_app = server_app.create_app

        def recording_create_app(*args: Any, **kwargs: Any) -> Any:
            app = create_app(*args, **kwargs)
            app.add_middleware(_ResponseRecorder)
            return app

        recording_create_app.__wrapped__ = create_app  # type: ignore[attr-defined]
        server_app.create_app = recording_create_app


def _patch_cli() -> None:
    import click.testing

    runners: list[Any] = [click.testing.CliRunner]
    with contextlib.suppress(ModuleNotFoundError):
        import typer.testing  # its runner has an invoke of its own

        runners.append(typer.testing.CliRunner)
    for runner in runners:
        runner.invoke = _recording_invoke(runner.invoke)


def _recording_invoke(invoke: Any) -> Any:
    def recording_invoke(self: Any, cli: Any, args: Any = None, *a: Any, **kw: Any) -> Any:
        result = invoke(self, cli, args, *a, **kw)
        words = args.split() if isinstance(args, str) else [str(x) for x in (args or ())]
        shows_key = "keys" in words and "create" in words  # the one place a gateway key is printed
        try:
            output = result.output + "\n" + result.stderr
        except ValueError:
            output = result.output
        # what the user sees: not the arguments (a test may pass a key on the command line, as a user
        # may) nor the exception object the runner keeps (one a test planted; polyface's are swept apart)
        SWEEP.see("CLI output", output, allow_gateway=shows_key)
        return result

    return recording_invoke


# ---- the plugin ---------------------------------------------------------------------------------------


def _install() -> None:
    _patch_logging()
    _patch_secrets()
    _patch_errors()
    _patch_gateway_keys()
    _patch_database()
    _patch_server()
    _patch_cli()


_OUTER: list[pytest.Config] = []
"""The session the sweep reports for (a pytester run inside it gets no sweep item of its own)."""


def pytest_configure(config: pytest.Config) -> None:
    _install()
    if not _OUTER:
        _OUTER.append(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OUTER and _OUTER[0] is config:
        _OUTER.clear()


class SweepItem(pytest.Item):
    """The session's last item: fails if any key leaked anywhere during the session."""

    def runtest(self) -> None:
        SWEEP.scan()
        if SWEEP.findings:
            raise AssertionError(SWEEP.report())

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, "secret-sweep: no API key in any log, exception, DB row or response"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if items and _OUTER and _OUTER[0] is config:
        items.append(
            SweepItem.from_parent(
                session, name="secret-sweep", nodeid="tests/reliability/_secret_sweep.py::secret-sweep"
            )
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    SWEEP.where = item.nodeid
    try:
        return (yield)
    finally:
        SWEEP.scan()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and (report.failed or hasattr(report, "wasxfail")):
        SWEEP.see("a test's exception", _chain(call.excinfo.value))
    if report.when == "teardown":
        for name, content in report.sections:
            if name.startswith("Captured std"):
                SWEEP.see("captured output", content)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(SWEEP.summary())


def sweep() -> Sweep:
    """The session's sweep (for tests that check it sees what it should)."""
    return SWEEP


__all__ = ["SWEEP", "Finding", "Sweep", "SweepItem", "sweep"]
