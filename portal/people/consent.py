"""Separate consent for sensitive personal information (PIPL Art. 28–30).

Party membership (在职党员报到) is sensitive personal information: it is processed only
with a separate, explicit consent — an unticked box at sign-up, or the button on
"My security" — recorded with the version of the text and the time. A person can see
their consents, download them (JSON or xlsx) and withdraw. Withdrawing stops the
processing: a pending or confirmed party report is withdrawn and the party-member role
ends; volunteer hours and points are not touched.
"""

from __future__ import annotations

import io
import json

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.audit.services import record, record_refusal
from portal.errors import ServiceError
from portal.exports import safe_cell
from portal.people.models import ConsentRecord, Role, RoleAssignment, User

SENSITIVE = "sensitive_info"
KINDS = {SENSITIVE: _l("Sensitive personal information (party membership, ID number)")}


def version() -> str:
    return str(current_app.config["CONSENT_VERSION"])


def live(session: Session, user_id: int, kind: str) -> ConsentRecord | None:
    return session.scalar(
        select(ConsentRecord)
        .where(
            ConsentRecord.user_id == user_id, ConsentRecord.kind == kind, ConsentRecord.withdrawn_at.is_(None)
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def history(session: Session, user_id: int) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.user_id == user_id).order_by(ConsentRecord.id)
        )
    )


def grant(session: Session, user: User, kind: str) -> ConsentRecord:
    """Record consent to ``kind`` at the current text version (idempotent while live)."""
    if kind not in KINDS:
        raise ServiceError(_l("Unknown consent."), code="unknown_consent")
    current = live(session, user.id, kind)
    if current is not None and current.version == version():
        return current
    if current is not None:  # an older text: the new consent replaces it
        current.withdrawn_at = utcnow()
    row = ConsentRecord(user_id=user.id, kind=kind, version=version())
    session.add(row)
    session.flush()
    record(
        session,
        "consent.grant",
        actor_id=user.id,
        community_id=user.community_id,
        kind=kind,
        version=row.version,
    )
    return row


def withdraw(session: Session, user: User, kind: str) -> None:
    current = live(session, user.id, kind)
    if current is None:
        return
    current.withdrawn_at = utcnow()
    if kind == SENSITIVE:
        _stop_party_processing(session, user)
    session.flush()
    record(session, "consent.withdraw", actor_id=user.id, community_id=user.community_id, kind=kind)


def _stop_party_processing(session: Session, user: User) -> None:
    from portal.people.reports import PartyReport, ReportStatus

    for report in session.scalars(
        select(PartyReport).where(
            PartyReport.user_id == user.id,
            PartyReport.status.in_([ReportStatus.PENDING, ReportStatus.CONFIRMED]),
        )
    ):
        report.status = ReportStatus.WITHDRAWN
    session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == Role.PARTY_MEMBER
        )
    )
    session.expire(user, ["roles"])


def require(session: Session, user: User, kind: str = SENSITIVE) -> None:
    """Refuse to process sensitive information without a live consent."""
    if live(session, user.id, kind) is None:
        record_refusal(
            session, "consent.missing", actor_id=user.id, community_id=user.community_id, kind=kind
        )
        raise ServiceError(
            _l(
                "Reporting as a party member needs your separate consent to the use of sensitive "
                "personal information. Give it under Me → Security and privacy, then try again."
            ),
            code="consent_required",
            status=403,
        )


def _rows(session: Session, user: User) -> list[dict[str, str | None]]:
    return [
        {
            "kind": r.kind,
            "purpose": str(KINDS.get(r.kind, r.kind)),
            "version": r.version,
            "granted_at": r.granted_at.isoformat(),
            "withdrawn_at": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
        }
        for r in history(session, user.id)
    ]


def export_json(session: Session, user: User) -> str:
    return json.dumps({"user_id": user.id, "consents": _rows(session, user)}, ensure_ascii=False, indent=2)


def export_xlsx(session: Session, user: User) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "consents"
    headers = ["kind", "purpose", "version", "granted_at", "withdrawn_at"]
    ws.append(headers)
    for row in _rows(session, user):
        # Values are our own codes and ISO times; prefix anything formula-like anyway.
        ws.append([_cell(row[h]) for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value: str | None) -> str:
    return str(safe_cell(value or ""))


def record_download(session: Session, user: User, fmt: str) -> None:
    record(session, "consent.export", actor_id=user.id, community_id=user.community_id, format=fmt)
