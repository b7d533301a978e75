"""The audit trail: every change to master data, specifications, holds, dispositions, overrides and
users, as an append-only, hash-chained event (who, when, what, before/after, reason).

The chain. Events are numbered 1, 2, 3 … without gaps. Event n's ``hash`` is the SHA-256 (hex) of
the UTF-8 bytes of this JSON object, keys sorted, separators ``,`` and ``:``, non-ASCII kept::

    {"action", "actor_role", "actor_user_id", "actor_username", "after", "at", "before",
     "entity_id", "entity_type", "id", "prev_hash", "reason", "signature_id"}

where ``at`` is the UTC instant as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, ``before``/``after`` are
the stored JSON texts (themselves canonical: sorted keys, no spaces) or null, and ``prev_hash`` is
event n-1's hash; event 1 chains to ``GENESIS_HASH`` (64 zeros). ``audit_head`` holds the last
number and hash, so cutting events off the end is detected as well.

Appends are serialised: ``record`` first bumps the one ``audit_head`` row (``UPDATE … RETURNING``),
which holds that row's lock until the transaction ends on PostgreSQL; SQLite's BEGIN IMMEDIATE
already admits one writer at a time. Record the event after the change it describes, so the lock
is held for as short a time as possible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.persistence import models as m
from app.services.clock import utcnow

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a value: sorted keys, no spaces, datetimes as UTC ISO 8601."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def snapshot(row: m.Base, *, without: Iterable[str] = ()) -> dict[str, Any]:
    """A row's column values, for an event's before/after."""
    skip = set(without)
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in skip}


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: m.AuditEvent | Any) -> str:
    """The hash an event must carry, from its stored fields and ``prev_hash`` (see the module docstring)."""
    fields = {
        "id": event.id,
        "at": _at_text(event.at),
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "actor_user_id": event.actor_user_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "signature_id": event.signature_id,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
    signature: m.ESignature | None = None,
) -> m.AuditEvent:
    """Append one event to the chain (flushes, never commits). ``action`` reads like ``hold.release``."""
    seq, prev_hash = session.execute(
        update(m.AuditHead)
        .where(m.AuditHead.id == 1)
        .values(seq=m.AuditHead.seq + 1)
        .returning(m.AuditHead.seq, m.AuditHead.hash)
    ).one()
    event = m.AuditEvent(
        id=seq,
        at=utcnow(),  # hashed at microsecond precision, which both backends store exactly
        actor_username=actor.username,
        actor_role=actor.role.value if actor.role else None,
        actor_user_id=actor.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=None if before is None else canonical_json(before),
        after=None if after is None else canonical_json(after),
        reason=reason,
        signature_id=signature.id if signature is not None else None,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    session.execute(update(m.AuditHead).where(m.AuditHead.id == 1).values(hash=event.hash))
    return event


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first place where the stored chain is not what its own contents say it must be."""

    event_id: int | None  # None: the chain is fine but the head disagrees with it
    problem: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "audit head"
        return f"{where}: {self.problem}"


def verify_chain(*, session: Session) -> BrokenLink | None:
    """Recompute every hash in order; the first broken link, or None when the chain is intact.

    The head is read first and the chain checked up to it, so appends committed meanwhile are not
    mistaken for damage; rows are read as columns, a thousand at a time, however long the chain."""
    head = session.execute(select(m.AuditHead.seq, m.AuditHead.hash).where(m.AuditHead.id == 1)).one_or_none()
    if head is None:
        return BrokenLink(None, "the audit_head row is missing")
    expected_id, prev_hash = 1, GENESIS_HASH
    columns = [c for c in m.AuditEvent.__table__.columns]
    rows = session.execute(
        select(*columns).where(m.AuditEvent.id <= head.seq).order_by(m.AuditEvent.id).execution_options(yield_per=1000)
    )
    for event in rows:
        if event.id != expected_id:
            return BrokenLink(
                event.id, f"expected event {expected_id} next; events {expected_id}..{event.id - 1} are missing"
            )
        if event.prev_hash != prev_hash:
            return BrokenLink(
                event.id, f"prev_hash {event.prev_hash} is not the hash of the event before ({prev_hash})"
            )
        recomputed = event_hash(event)
        if recomputed != event.hash:
            return BrokenLink(
                event.id, f"contents do not match the stored hash (stored {event.hash}, recomputed {recomputed})"
            )
        expected_id, prev_hash = event.id + 1, event.hash
    if (head.seq, head.hash) != (expected_id - 1, prev_hash):
        return BrokenLink(
            None,
            f"head says the last event is {head.seq} with hash {head.hash}; "
            f"the chain ends at {expected_id - 1} with {prev_hash} (events cut off the end?)",
        )
    return None


def count_events(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(m.AuditEvent)) or 0


def list_events(
    *,
    session: Session,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[m.AuditEvent]:
    """Events in chain order, filtered; page with ``after_id`` (the last id of the previous page)."""
    query = select(m.AuditEvent)
    if entity_type is not None:
        query = query.where(m.AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(m.AuditEvent.entity_id == entity_id)
    if action is not None:
        query = query.where(m.AuditEvent.action == action)
    if after_id is not None:
        query = query.where(m.AuditEvent.id > after_id)
    return list(session.scalars(query.order_by(m.AuditEvent.id).limit(limit)))
