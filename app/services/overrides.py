"""Verdict overrides and manual checks: a person's decision, recorded beside the engine's verdict.

The engine's verdict and checks on the attempt are never changed. An override decides where the
unit goes from here: PASS over a FAIL is a concession (the attempt counts as passed and the unit
goes on; over a FAIL already used as is, the unit went on then and stays where it is); FAIL over a
PASS (or over a RETEST) sends the unit down the route's rework path. A RETEST is not a verdict to
concede over: the station measures again, and its FAIL can be overridden.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.actors import Actor
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.results import Verdict
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import audit, signatures
from app.services.clock import utcnow
from app.services.holds import audit_hold, effective_verdict, settle_status, unit_state
from app.services.signatures import VerifiedSignature


def _attempt_and_unit(session: Session, attempt_id: int) -> tuple[m.OperationAttempt, m.Unit]:
    """The attempt and its unit, the unit row locked; the attempt is read once the lock is held
    (a result that committed while this waited must be seen)."""
    unit_id = session.scalar(select(m.OperationAttempt.unit_id).where(m.OperationAttempt.id == attempt_id))
    if unit_id is None:
        raise NotFound(f"attempt {attempt_id} does not exist")
    unit = session.scalars(
        select(m.Unit).where(m.Unit.id == unit_id).with_for_update().execution_options(populate_existing=True)
    ).one()
    attempt = session.scalars(
        select(m.OperationAttempt).where(m.OperationAttempt.id == attempt_id).execution_options(populate_existing=True)
    ).one()
    return attempt, unit


def override_verdict(
    *, session: Session, attempt_id: int, verdict: Verdict, reason: str, actor: Actor, signature: VerifiedSignature
) -> m.VerdictOverride:
    """Record a person's verdict beside the engine's, on the unit's latest result, and route the unit.

    Needs the quality engineer's electronic signature, verified by the caller before this transaction."""
    if verdict is Verdict.RETEST:
        raise InvalidInput("an override decides: PASS or FAIL")
    by = actor.username
    attempt, unit = _attempt_and_unit(session, attempt_id)
    if attempt.verdict is None:
        raise Conflict(f"attempt {attempt_id} has no verdict yet; override a judged result")
    latest = session.scalars(
        select(m.OperationAttempt.id)
        .where(m.OperationAttempt.unit_id == unit.id, m.OperationAttempt.status != "aborted")
        .order_by(m.OperationAttempt.id.desc())
        .limit(1)
    ).one()
    if latest != attempt.id:
        raise Conflict(
            f"{unit.serial} has results after attempt {attempt_id}; only its latest result can be overridden"
        )
    if verdict is Verdict.PASS and attempt.status == routing.AttemptStatus.RETEST:
        # A RETEST is no verdict to concede over: the station asked to measure again, and the
        # route counts a concession only over a FAIL (it would leave the unit able to start nowhere).
        raise Conflict(
            f"attempt {attempt_id} at {attempt.station_id} is a RETEST, not a verdict: measure {unit.serial} "
            f"again at {attempt.station_type}; a PASS can be given over the FAIL a measurement there reports"
        )
    current = effective_verdict(session, attempt)
    if current == verdict.value:
        raise Conflict(f"attempt {attempt_id} already counts as {verdict.value}")
    if unit.status == routing.UnitStatus.SCRAPPED:
        raise Conflict(f"{unit.serial} was scrapped")
    unit_before = unit_state(unit)
    released: list[tuple[m.Hold, dict[str, object]]] = []
    placed: m.Hold | None = None
    now = utcnow()
    record = m.VerdictOverride(
        attempt_id=attempt.id, engine_verdict=attempt.verdict, verdict=verdict.value, reason=reason, by=by, at=now
    )
    session.add(record)
    model = session.get(m.ProductModel, unit.product_model_id)
    assert model is not None
    route = repo.route_def(session, model.route_id)
    if verdict is Verdict.PASS:
        # A FAIL already conceded (used as is) sent the unit on as after a PASS, and a repair's concession
        # cleared its re-entry step: the PASS corrects the record and leaves the unit where it is.
        conceded = attempt.use_as_is
        attempt.use_as_is = True
        for hold in repo.active_holds(session, unit.id):
            if hold.attempt_id == attempt.id:
                released.append((hold, audit.snapshot(hold)))
                hold.released_at, hold.released_by = now, by
                hold.disposition, hold.release_reason = "use_as_is", f"verdict override: {reason}"
        if not conceded:
            repaired = attempt.station_type == routing.REPAIR
            unit.next_step = unit.reentry_step if repaired else route.following(attempt.station_type)
            unit.reentry_step = None
        session.flush()
        settle_status(session, unit=unit, route=route)
    else:
        attempt.use_as_is = False
        view = repo.view_of(session, unit)
        if attempt.station_type == routing.REPAIR and view.reentry_step is None:
            # the repair's PASS already sent the unit on to where it re-enters (and cleared its re-entry
            # step): a repair judged bad after all is still followed by that same step
            view = dataclasses.replace(view, reentry_step=unit.next_step)
        transition = routing.after_verdict(
            route=route,
            unit=view,
            station_type=attempt.station_type,
            verdict=Verdict.FAIL,
            failure_mode=None,
            summary=f"verdict override by {by}: {reason}",
        )
        unit.next_step, unit.reentry_step = transition.next_step, transition.reentry_step
        unit.rework_loops = transition.rework_loops
        if transition.hold_reason is not None:
            placed = m.Hold(
                unit_id=unit.id,
                reason=transition.hold_reason,
                scope="verdict",
                scope_ref=attempt.station_id,
                attempt_id=attempt.id,
                created_at=now,
                created_by=by,
            )
            session.add(placed)
            unit.status = routing.UnitStatus.ON_HOLD.value
        elif unit.status != routing.UnitStatus.ON_HOLD:
            unit.status = transition.status.value
    unit.updated_at = now
    session.flush()
    signed = signatures.sign(
        session=session,
        actor=actor,
        signature=signature,
        meaning=signatures.OVERRIDE_VERDICT,
        reason=reason,
        entity_type="verdict_override",
        entity_id=str(record.id),
    )
    record.signature_id = signed.id
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="verdict.override",
        entity_type="verdict_override",
        entity_id=str(record.id),
        before={"attempt_id": attempt.id, "effective_verdict": current, "unit": unit_before},
        after={"override": audit.snapshot(record), "unit": unit_state(unit)},
        reason=reason,
        signature=signed,
    )
    for hold, hold_before in released:
        audit_hold(
            session,
            actor=actor,
            action="hold.release.use_as_is",
            hold=hold,
            unit=unit,
            before=unit_before,
            hold_before=hold_before,
            reason=hold.release_reason,
            signature=signed,
        )
    if placed is not None:
        audit_hold(session, actor=actor, action="hold.place", hold=placed, unit=unit, before=unit_before, reason=reason)
    return record


def record_manual_check(
    *, session: Session, attempt_id: int, name: str, verdict: Verdict, message: str, actor: Actor
) -> m.ManualCheck:
    """A person's check on an attempt (e.g. a visual inspection); a FAIL puts the unit on hold."""
    if verdict is Verdict.RETEST:
        raise InvalidInput("a manual check is PASS or FAIL; measure again and record the outcome")
    by = actor.username
    attempt, unit = _attempt_and_unit(session, attempt_id)
    unit_before = unit_state(unit)
    now = utcnow()
    check = m.ManualCheck(attempt_id=attempt.id, name=name, verdict=verdict.value, message=message, by=by, at=now)
    session.add(check)
    hold: m.Hold | None = None
    if verdict is Verdict.FAIL and unit.status != routing.UnitStatus.SCRAPPED:
        hold = m.Hold(
            unit_id=unit.id,
            reason=f"manual check {name} failed at {attempt.station_id}: {message}",
            scope="verdict",
            scope_ref=attempt.station_id,
            attempt_id=attempt.id,
            created_at=now,
            created_by=by,
        )
        session.add(hold)
        unit.status = routing.UnitStatus.ON_HOLD.value
        unit.updated_at = now
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="manual_check.record",
        entity_type="manual_check",
        entity_id=str(check.id),
        before=None,
        after={"check": audit.snapshot(check), "unit": unit_state(unit)},
        reason=message,
    )
    if hold is not None:
        audit_hold(
            session, actor=actor, action="hold.place", hold=hold, unit=unit, before=unit_before, reason=hold.reason
        )
    return check
