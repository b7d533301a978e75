"""The audit trail, read-only: who changed what, when, before/after, why, and the e-signature if any."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api import presenters, schemas
from app.api.deps import SessionDep
from app.domain.actors import Role
from app.security.access import allow
from app.services import audit, signatures

router = APIRouter(tags=["audit"])


class AuditEventOut(BaseModel):
    id: int = Field(description="Position in the hash chain (1, 2, 3 … without gaps)")
    at: datetime
    actor_username: str
    actor_role: str | None
    actor_user_id: int | None
    action: str = Field(description='What happened, e.g. "hold.place", "spec_revision.approve"')
    entity_type: str
    entity_id: str
    before: Any = Field(description="The record before the change (null when it was created)")
    after: Any = Field(description="The record after the change")
    reason: str | None
    signature: schemas.SignatureOut | None
    prev_hash: str
    hash: str = Field(description="SHA-256 over the event's fields and prev_hash (see `mes audit verify`)")


class AuditEventPage(BaseModel):
    items: list[AuditEventOut]
    next_after_id: int | None = Field(description="Pass as 'after_id' for the next page; null on the last page")


@router.get(
    "/audit-events",
    operation_id="listAuditEvents",
    summary="The audit trail, oldest first, filtered by entity or action",
    response_model=AuditEventPage,
    responses=schemas.problem_responses(422),
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_audit_events(
    session: SessionDep,
    entity_type: str | None = Query(default=None, max_length=64, description='e.g. "hold", "spec_revision"'),
    entity_id: str | None = Query(default=None, max_length=128),
    action: str | None = Query(default=None, max_length=64),
    after_id: int | None = Query(default=None, ge=0, le=2**62, description="Events after this id (paging)"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> AuditEventPage:
    events = audit.list_events(
        session=session,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        after_id=after_id,
        limit=limit + 1,
    )
    page, more = events[:limit], len(events) > limit
    signed = signatures.by_ids(session, [e.signature_id for e in page])
    items = [
        AuditEventOut(
            id=e.id,
            at=e.at,
            actor_username=e.actor_username,
            actor_role=e.actor_role,
            actor_user_id=e.actor_user_id,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            before=json.loads(e.before) if e.before is not None else None,
            after=json.loads(e.after) if e.after is not None else None,
            reason=e.reason,
            signature=presenters.signature_out(signed.get(e.signature_id)) if e.signature_id else None,
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in page
    ]
    return AuditEventPage(items=items, next_after_id=page[-1].id if more else None)
