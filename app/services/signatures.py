"""Electronic signatures: the signer re-enters their password (or badge PIN) and gives a reason; the
signature (signer, meaning, time) is stored with the record it signs and named by its audit event.

The secret is checked before the signed change starts, in a transaction of its own
(``app.api.authz.check_signature``: a wrong secret counts toward lockout and nothing changes); the
services take the outcome, a ``VerifiedSignature``, and store it with the record with ``sign``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.errors import InvalidInput
from app.persistence import models as m
from app.services.clock import utcnow

APPROVE_SPEC_REVISION = "approve specification revision"
RELEASE_HOLD = "release hold with disposition"
RELEASE_LOT_HOLD = "release lot hold with disposition"  # every hold of a lot hold still active, at once
OVERRIDE_VERDICT = "override verdict"


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signer whose re-entered password or PIN has just been verified, and the signature's own reason."""

    user_id: int
    username: str
    display_name: str
    role: str | None
    reason: str | None = None

    @classmethod
    def of(cls, user: m.AppUser, *, reason: str | None = None) -> VerifiedSignature:
        return cls(user.id, user.username, user.display_name, user.role, reason)


def sign(
    *,
    session: Session,
    actor: Actor,
    signature: VerifiedSignature,
    meaning: str,
    reason: str,
    entity_type: str,
    entity_id: str,
) -> m.ESignature:
    """Store the signature with what it means; ``reason`` serves when the signer gave none of its own."""
    if signature.user_id != actor.user_id or signature.username != actor.username:
        raise InvalidInput(
            f"a signature is by the person acting: {signature.username} cannot sign for {actor.username}"
        )
    row = m.ESignature(
        user_id=signature.user_id,
        username=signature.username,
        display_name=signature.display_name,
        role=signature.role,
        meaning=meaning,
        reason=signature.reason or reason,
        signed_at=utcnow(),
        entity_type=entity_type,
        entity_id=entity_id,
    )
    session.add(row)
    session.flush()
    return row


def by_ids(session: Session, ids: set[int | None] | list[int | None]) -> dict[int, m.ESignature]:
    """Signatures by id, for showing them beside the records they sign (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(m.ESignature).where(m.ESignature.id.in_(wanted)))}
