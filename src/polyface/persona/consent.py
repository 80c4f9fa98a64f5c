"""Consent to use a real person's likeness: who, for which uses, when, and the evidence.

Voice, image and video training of a persona needs a recorded, unrevoked consent covering that use;
without one, training raises :class:`~polyface.errors.ConsentRequired` saying what to record.
"""

from __future__ import annotations

import builtins
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from polyface.errors import ConsentRequired, InvalidArgument
from polyface.persona.media import mime_for
from polyface.persona.store import put_blob
from polyface.persona.tables import Consent
from polyface.persona.views import LIKENESS_USES, ConsentInfo

if TYPE_CHECKING:
    from polyface.persona.studio import Studio

MAX_EVIDENCE_BYTES = 50 * 1024 * 1024
MAX_SUBJECT_CHARS = 200


def consent_info(row: Consent) -> ConsentInfo:
    return ConsentInfo(
        id=row.id,
        subject=row.subject,
        uses=list(row.uses),
        evidence_sha256=row.evidence_sha256,
        evidence_note=row.evidence_note,
        recorded_at=row.recorded_at,
        revoked_at=row.revoked_at,
    )


class ConsentBook:
    """``persona.consent``: record, list, revoke, and check consents."""

    def __init__(self, studio: Studio, persona_id: int, persona_name: str) -> None:
        self._studio = studio
        self._persona_id = persona_id
        self._name = persona_name

    def record(
        self,
        subject: str,
        uses: builtins.list[str] | tuple[str, ...] = LIKENESS_USES,
        *,
        evidence: str | os.PathLike[str] | bytes | None = None,
        note: str = "",
    ) -> ConsentInfo:
        """Record that ``subject`` consents to ``uses`` (voice, image, video) of their likeness.
        ``evidence`` (a signed form, a recorded statement: a path or bytes) is stored with it."""
        if not isinstance(subject, str) or not subject.strip():
            raise InvalidArgument("subject must name who consents (e.g. subject='Rex Harbor').")
        if len(subject.strip()) > MAX_SUBJECT_CHARS:  # the column's limit (PostgreSQL enforces it)
            raise InvalidArgument(
                f"subject is {len(subject.strip())} characters; use at most {MAX_SUBJECT_CHARS} (a name)."
            )
        uses = [u.strip().lower() for u in uses]
        unknown = sorted(set(uses) - set(LIKENESS_USES))
        if unknown or not uses:
            raise InvalidArgument(
                f"uses must be some of {', '.join(LIKENESS_USES)} (got {', '.join(unknown) or 'none'})."
            )
        data: bytes | None = None
        mime = "application/octet-stream"
        if isinstance(evidence, bytes):
            data = evidence
        elif evidence is not None:
            path = Path(evidence).expanduser()
            if not path.is_file():
                raise InvalidArgument(
                    f"consent evidence {path} is not a file; pass the path of the form or recording."
                )
            data = path.read_bytes()
            mime = mime_for(path)
        if data is not None and len(data) > MAX_EVIDENCE_BYTES:
            raise InvalidArgument(
                f"consent evidence is over {MAX_EVIDENCE_BYTES // 2**20} MiB; keep it smaller."
            )
        if data is not None and not data:
            raise InvalidArgument("consent evidence is empty.")
        with self._studio.db.session() as session:
            sha = put_blob(session, self._studio.media, data, mime).sha256 if data is not None else None
            row = Consent(
                persona_id=self._persona_id,
                subject=subject.strip(),
                uses=sorted(set(uses)),
                evidence_sha256=sha,
                evidence_note=note,
            )
            session.add(row)
            session.flush()
            return consent_info(row)

    def list(self, *, include_revoked: bool = False) -> builtins.list[ConsentInfo]:
        with self._studio.db.session() as session:
            rows = session.scalars(
                select(Consent).where(Consent.persona_id == self._persona_id).order_by(Consent.id)
            ).all()
            return [consent_info(r) for r in rows if include_revoked or r.revoked_at is None]

    def revoke(self, consent_id: int) -> ConsentInfo:
        with self._studio.db.session() as session:
            row = session.get(Consent, consent_id)
            if row is None or row.persona_id != self._persona_id:
                raise InvalidArgument(f"persona {self._name!r} has no consent {consent_id}.")
            row.revoked_at = datetime.now(UTC)
            return consent_info(row)

    def covers(self, use: str) -> bool:
        return any(use in c.uses for c in self.list())

    def require(self, use: str) -> None:
        """Raise :class:`ConsentRequired` unless a recorded, unrevoked consent covers ``use``."""
        if use in LIKENESS_USES and not self.covers(use):
            raise ConsentRequired(
                f"training {use} for persona {self._name!r} reproduces a real person's likeness and needs "
                f"their consent: record it with persona.consent.record(subject='<their name>', "
                f"uses=['{use}'], "
                f"evidence='<signed form or recorded statement>') or `polyface consent record {self._name} "
                f"--subject '<name>' --uses {use} --evidence <file>`."
            )

    def evidence_file(self, use: str, workdir: Path) -> Path | None:
        """The newest consent evidence covering ``use``, written into ``workdir`` (for providers that take
        the evidence itself, like OpenAI's custom voices which need a recorded consent statement)."""
        from polyface.persona.media import extension_for
        from polyface.persona.tables import MediaBlob

        for consent in reversed(self.list()):
            if use in consent.uses and consent.evidence_sha256:
                with self._studio.db.session() as session:
                    blob = session.get(MediaBlob, consent.evidence_sha256)
                    assert blob is not None
                    mime = blob.mime_type
                target = workdir / f"consent-{consent.id}{extension_for(mime)}"
                target.write_bytes(self._studio.media.read(consent.evidence_sha256, mime))
                return target
        return None
