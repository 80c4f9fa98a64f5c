"""The persona database's tables (SQLAlchemy 2, typed). Migrations live in ``polyface/persona/migrations``.

Media bytes are not in the database: rows refer to blobs of the content-addressed store by their SHA-256
(:class:`MediaBlob`), and a blob is deleted only when no row refers to it any more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite keeps no zone; PostgreSQL would
    answer in the session's zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime()}


class MediaBlob(Base):
    """One stored file, named by the SHA-256 of its bytes (identical uploads are stored once)."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)


class Persona(Base):
    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    style_notes: Mapped[str] = mapped_column(Text, default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    samples: Mapped[list[Sample]] = relationship(
        back_populates="persona", cascade="all, delete-orphan", passive_deletes=True
    )


class Sample(Base):
    """One piece of training data: a dialogue row (text), a recording, an image or a clip."""

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("persona_id", "modality", "checksum", name="uq_samples_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    """text, audio, image or video."""
    media_sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The dialogue row (JSON) for text; a transcript for audio or video when known."""
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    checksum: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the sample's content (the media's bytes, or the text row)."""
    source: Mapped[str] = mapped_column(Text, default="")
    """Where it came from: a file path, ``path:line``, or ``<rows>``."""
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What validation measured: sample rate, width/height, fps..."""
    created_at: Mapped[datetime] = mapped_column(default=now)

    persona: Mapped[Persona] = relationship(back_populates="samples")


class Consent(Base):
    """Who consents to which uses of their likeness (voice, image, video), when, and the evidence."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    uses: Mapped[list[Any]] = mapped_column(default=list)
    evidence_sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"), nullable=True)
    evidence_note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TrainingRun(Base):
    """One modality's training on one provider. Recorded before it is submitted (``status="submitting"``),
    so a crash never loses or duplicates the provider's job (``polyface runs resume``)."""

    __tablename__ = "training_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    """The runs one ``avatar.train(plan)`` started share it."""
    modality: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sample_ids: Mapped[list[Any]] = mapped_column(default=list)
    provider_job_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="planned")
    """planned, submitting, running, succeeded, failed, cancelled."""
    events: Mapped[list[Any]] = mapped_column(default=list)
    estimated_cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    result_model: Mapped[str | None] = mapped_column(String(300), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class Avatar(Base):
    """A version of a persona's avatar: one model reference per modality (``models``)."""

    __tablename__ = "avatars"
    __table_args__ = (UniqueConstraint("persona_id", "version", name="uq_avatars_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    models: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """modality -> {"provider": ..., "model": ..., "run_id": ...} for text, voice, image, video, audio."""
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    """The version the persona answers with (one per persona; activate/rollback move it)."""
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Turn.id", passive_deletes=True
    )


class Turn(Base):
    """What was said: the user's input or the persona's answer, with its output media."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    avatar_id: Mapped[int | None] = mapped_column(
        ForeignKey("avatars.id", ondelete="SET NULL"), nullable=True
    )
    usage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")
    media: Mapped[list[TurnMedia]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class TurnMedia(Base):
    """One output of a turn (its voice, video or image), as a stored blob."""

    __tablename__ = "turn_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """voice, video or image (or the input: input_audio)."""
    media_sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


MEDIA_REFERENCES: tuple[tuple[type[Base], str], ...] = (
    (Sample, "media_sha256"),
    (Consent, "evidence_sha256"),
    (TurnMedia, "media_sha256"),
)
"""Every column that refers to a blob: a blob is garbage only when none of them does."""


class ApiKey(Base):
    """A bearer key of the server's OpenAI-compatible gateway (``polyface keys create``). Only the SHA-256
    of the secret is stored; the secret is shown once, when the key is made."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    """The secret's first characters (``pf-Ab3d...``): what lists show to tell keys apart."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the whole secret."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    rate_limit_rpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Requests per minute for this key (None: the server's default)."""
