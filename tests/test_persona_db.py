"""The persona database: migrations up and down on SQLite and PostgreSQL, personas, avatar versions."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect

from polyface.errors import InvalidArgument
from polyface.persona.db import Database, current_revision, downgrade, safe_url, upgrade
from polyface.persona.errors import NoAvatar, PersonaExists, PersonaNotFound
from polyface.persona.studio import Studio
from polyface.persona.tables import Base

TABLES = set(Base.metadata.tables)


def test_migrations_go_up_and_down(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert current_revision(db.engine) == "0002"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        downgrade(db.engine)
        assert current_revision(db.engine) is None
        assert not TABLES & set(inspect(db.engine).get_table_names())
        upgrade(db.engine)
        assert current_revision(db.engine) == "0002"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
    finally:
        db.close()


def test_the_schema_matches_the_models(database_url: str) -> None:
    # autogenerate finds nothing to change: the migration and tables.py agree
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
    finally:
        db.close()


def test_opening_again_keeps_what_is_stored(database_url: str, tmp_path: Any) -> None:
    with Studio(database_url, data_dir=tmp_path) as studio:
        studio.personas.create("rex", description="A gruff driver.")
    with Studio(database_url, data_dir=tmp_path) as studio:
        assert [p.name for p in studio.personas.list()] == ["rex"]
        assert studio.personas.get("rex").description == "A gruff driver."


def test_personas_create_get_delete(studio: Studio) -> None:
    rex = studio.personas.create("rex", description="d", style_notes="s", system_prompt="You are Rex.")
    assert rex.info().system_prompt == "You are Rex."
    with pytest.raises(PersonaExists):
        studio.personas.create("rex")
    with pytest.raises(InvalidArgument, match="persona name"):
        studio.personas.create("Rex Harbor")
    with pytest.raises(PersonaNotFound, match="rex"):
        studio.personas.get("max")
    rex.update(description="new")
    assert studio.personas.get("rex").info().description == "new"
    studio.personas.delete("rex")
    assert studio.personas.names() == []


def test_avatar_versions_activate_and_roll_back(studio: Studio) -> None:
    rex = studio.personas.create("rex")
    with pytest.raises(NoAvatar, match="no avatar yet"):
        rex.avatar.require_active()
    v1 = rex.set_avatar({"text": "local:smollm2-135m-instruct"})
    v2 = rex.set_avatar({"voice": "local:espeak-ng"}, note="voice added")
    assert (v1.version, v2.version) == (1, 2)
    # a new version carries the active one's other modalities over
    assert set(v2.models) == {"text", "voice"} and v2.models["text"]["model"] == "smollm2-135m-instruct"
    assert rex.avatar.active().version == 2  # type: ignore[union-attr]
    assert rex.avatar.rollback().version == 1
    assert [v.active for v in rex.avatar.versions()] == [True, False]
    assert rex.avatar.activate(2).active
    with pytest.raises(InvalidArgument, match="no avatar version 7"):
        rex.avatar.activate(7)
    with pytest.raises(InvalidArgument, match="provider and the model"):
        rex.set_avatar({"text": "smollm2"})
    assert rex.info().active_version == 2


def test_database_url_password_never_shows() -> None:
    assert "hunter2" not in safe_url("postgresql+psycopg://u:hunter2@db.example/x")
    from polyface.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Database("postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(caught.value)
