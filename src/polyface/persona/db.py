"""The persona database: where it is, the engine, sessions, and migrations (Alembic) run on open.

SQLite file ``<data>/polyface.db`` by default (the user's data folder from platformdirs, or
``POLYFACE_HOME``); any SQLAlchemy URL by ``database_url=`` or ``POLYFACE_DATABASE_URL`` (PostgreSQL:
``postgresql+psycopg://user@host/db``, extra ``polyface[postgres]``). Opening a database brings its schema
to the newest migration; ``downgrade`` goes back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from polyface.errors import ConfigurationError
from polyface.providers._base.secrets import redact

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(data_dir: Path) -> str:
    return os.environ.get("POLYFACE_DATABASE_URL") or f"sqlite:///{data_dir / 'polyface.db'}"


def safe_url(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return redact(re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url))


def make_engine(url: str) -> Engine:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the database {safe_url(url)} needs the {exc.name!r} driver: for PostgreSQL run "
            "`pip install 'polyface[postgres]'`."
        ) from None
    except Exception as exc:
        raise ConfigurationError(f"cannot use database URL {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cursor = conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Take the schema back to ``revision`` (``base``: no tables)."""
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Database:
    """One database: its engine and a session factory. ``with db.session() as s:`` commits on success."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            try:
                upgrade(self.engine)
            except Exception as exc:
                raise ConfigurationError(
                    f"cannot open the persona database {safe_url(url)}: {type(exc).__name__}: "
                    f"{redact(str(exc))[:500]}"
                ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"
