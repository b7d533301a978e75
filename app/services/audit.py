"""The audit trail: every change to master data, specifications, holds, dispositions, overrides and
users, as an append-only, hash-chained event (who, when, what, before/after, reason).

The chain. Events are numbered 1, 2, 3 … without gaps. Event n's ``hash`` is the SHA-256 (hex) of
the UTF-8 bytes of this JSON object, keys sorted, separators ``,`` and ``:``, non-ASCII kept::

    {"action", "actor_role", "actor_user_id", "actor_username", "after", "at", "before",
     "entity_id", "entity_type", "id", "prev_hash", "reason", "signature_id"}

where ``at`` is the UTC instant as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, ``before``/``after`` are
the stored JSON texts (themselves canonical: sorted keys, no spaces) or null, and ``prev_hash`` is
event n-1's hash; event 1 chains to ``GENESIS_HASH`` (64 zeros). ``audit_head`` holds the last
number and hash, so cutting events off the end is detected as well, and so is an event stored past
the head (verification walks every stored event, not only those up to the head).

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

from sqlalchemy import func, select, true, update
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


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``check_chain`` found: how many events it verified, and the first broken link if any."""

    verified: int  # events from 1 on whose sequence, prev_hash and hash all held (those before ``broken``)
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


#: Rows fetched from the database at a time while the chain is walked.
VERIFY_BATCH = 1000


def check_chain(*, session: Session, batch_size: int = VERIFY_BATCH) -> ChainCheck:
    """Walk every stored event in id order and recompute its link; the count verified and the first break.

    Each event must be the next number (1, 2, 3 …), carry the previous event's hash as ``prev_hash``
    (event 1: ``GENESIS_HASH``), carry the hash of its own contents, and lie within the head: an event
    numbered past ``audit_head`` is a break however well it is chained, as is a head that does not
    name the last event and its hash. The head and the events come from one statement, so one snapshot
    (appends committed meanwhile are simply not seen, never mistaken for damage); the rows are streamed,
    ``batch_size`` at a time, however long the chain."""
    head = m.AuditHead.__table__
    events = m.AuditEvent.__table__
    statement = (
        select(head.c.seq.label("head_seq"), head.c.hash.label("head_hash"), *events.columns)
        .select_from(head.outerjoin(events, true()))  # one row with no event when the trail is empty
        .where(head.c.id == 1)
        .order_by(events.c.id)
        .execution_options(yield_per=batch_size)
    )
    rows = session.execute(statement)
    try:
        head_seq: int | None = None
        head_hash: str | None = None
        verified, prev_hash = 0, GENESIS_HASH
        for event in rows:
            head_seq, head_hash = event.head_seq, event.head_hash
            if event.id is None:  # the trail is empty
                break
            expected_id = verified + 1
            if event.id < expected_id:
                return ChainCheck(verified, BrokenLink(event.id, f"out of sequence: expected event {expected_id}"))
            if event.id > expected_id:
                return ChainCheck(
                    verified,
                    BrokenLink(
                        event.id, f"expected event {expected_id} next; events {expected_id}..{event.id - 1} are missing"
                    ),
                )
            if event.prev_hash != prev_hash:
                return ChainCheck(
                    verified,
                    BrokenLink(
                        event.id, f"prev_hash {event.prev_hash} is not the hash of the event before ({prev_hash})"
                    ),
                )
            recomputed = event_hash(event)
            if recomputed != event.hash:
                return ChainCheck(
                    verified,
                    BrokenLink(
                        event.id,
                        f"contents do not match the stored hash (stored {event.hash}, recomputed {recomputed})",
                    ),
                )
            if event.id > head_seq:
                return ChainCheck(
                    verified,
                    BrokenLink(
                        event.id,
                        f"lies beyond the audit head, which says the last event is {head_seq} "
                        "(appended without the head, or the head moved back?)",
                    ),
                )
            verified, prev_hash = event.id, event.hash
    finally:
        rows.close()
    if head_seq is None:
        return ChainCheck(0, BrokenLink(None, "the audit_head row is missing"))
    if (head_seq, head_hash) != (verified, prev_hash):
        return ChainCheck(
            verified,
            BrokenLink(
                None,
                f"head says the last event is {head_seq} with hash {head_hash}; "
                f"the chain ends at {verified} with {prev_hash} (events cut off the end?)",
            ),
        )
    return ChainCheck(verified, None)


def verify_chain(*, session: Session) -> BrokenLink | None:
    """The first broken link of the whole stored chain (see ``check_chain``), or None when it is intact."""
    return check_chain(session=session).broken


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
