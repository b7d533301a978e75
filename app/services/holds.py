"""Holds: on a unit, or on every unit that consumed a component serial or lot (a lot hold); release with a
disposition, one hold at a time or every hold of a lot hold under one e-signature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.actors import Actor
from app.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from app.domain.results import Verdict
from app.domain.routing import AttemptStatus, Disposition, UnitStatus
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import audit, signatures
from app.services.clock import utcnow
from app.services.signatures import VerifiedSignature
from app.services.traceability import same_identifier


def place_hold(*, session: Session, serial: str, reason: str, actor: Actor) -> m.Hold:
    """Put one unit on hold. A scrapped unit cannot be held (it is already out of production)."""
    unit = repo.unit_by_serial(session, serial, for_update=True)
    if unit.status == UnitStatus.SCRAPPED:
        raise Conflict(f"{serial} was scrapped; there is nothing to hold")
    before = unit_state(unit)
    hold = _hold(session, unit=unit, reason=reason, by=actor.username, scope="unit", scope_ref=None)
    audit_hold(session, actor=actor, action="hold.place", hold=hold, unit=unit, before=before, reason=reason)
    return hold


def unit_state(unit: m.Unit) -> dict[str, object]:
    """The part of a unit a hold or a disposition changes, for audit events."""
    return {
        "serial": unit.serial,
        "status": unit.status,
        "next_step": unit.next_step,
        "reentry_step": unit.reentry_step,
    }


def audit_hold(
    session: Session,
    *,
    actor: Actor,
    action: str,
    hold: m.Hold,
    unit: m.Unit,
    before: dict[str, object],
    reason: str | None,
    hold_before: dict[str, object] | None = None,
    signature: m.ESignature | None = None,
) -> None:
    """One audit event for a hold placed or released: the hold's row and its unit's state, before and after."""
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="hold",
        entity_id=str(hold.id),
        before={"hold": hold_before, "unit": before},
        after={"hold": audit.snapshot(hold), "unit": unit_state(unit)},
        reason=reason,
        signature=signature,
    )


def _hold(
    session: Session,
    *,
    unit: m.Unit,
    reason: str,
    by: str | None,
    scope: str,
    scope_ref: str | None,
    lot_hold_id: int | None = None,
) -> m.Hold:
    now = utcnow()
    hold = m.Hold(
        unit_id=unit.id,
        reason=reason,
        scope=scope,
        scope_ref=scope_ref,
        created_at=now,
        created_by=by,
        lot_hold_id=lot_hold_id,
    )
    session.add(hold)
    unit.status = UnitStatus.ON_HOLD.value
    unit.updated_at = now
    session.flush()
    return hold


@dataclass(frozen=True, slots=True)
class LotHoldOutcome:
    identifier: str
    kind: str | None
    held: list[tuple[str, int]]  # (serial, hold id)
    skipped_scrapped: list[str]
    lot_hold_id: int | None  # the lot hold the holds belong to; None when every unit found was scrapped


def hold_by_component(
    *, session: Session, identifier: str, kind: str | None, reason: str, actor: Actor
) -> LotHoldOutcome:
    """Hold every unit that consumed ``identifier`` (a component serial, lot, furnace run, cylinder lot),
    recorded in any case, as the genealogy finds them: a recall typed "fr-0001" holds FR-0001's units.
    The holds belong to one lot hold, which ``release_lot_hold`` releases whole."""
    query = select(m.ComponentUse.unit_id).where(same_identifier(identifier))
    if kind is not None:
        query = query.where(m.ComponentUse.kind == kind)
    unit_ids = sorted(set(session.scalars(query)))
    if not unit_ids:
        what = f"{kind} {identifier}" if kind else identifier
        raise NotFound(f"no unit has consumed {what}", identifier=identifier)
    units = session.scalars(select(m.Unit).where(m.Unit.id.in_(unit_ids)).order_by(m.Unit.id).with_for_update()).all()
    scope_ref = f"{kind}:{identifier}" if kind else identifier
    skipped = [unit.serial for unit in units if unit.status == UnitStatus.SCRAPPED]
    to_hold = [unit for unit in units if unit.status != UnitStatus.SCRAPPED]
    if not to_hold:
        return LotHoldOutcome(identifier=identifier, kind=kind, held=[], skipped_scrapped=skipped, lot_hold_id=None)
    lot = m.LotHold(identifier=identifier, kind=kind, reason=reason, created_at=utcnow(), created_by=actor.username)
    session.add(lot)
    session.flush()
    held = []
    placed: list[tuple[m.Hold, m.Unit, dict[str, object]]] = []
    for unit in to_hold:
        before = unit_state(unit)
        hold = _hold(
            session,
            unit=unit,
            reason=reason,
            by=actor.username,
            scope="component",
            scope_ref=scope_ref,
            lot_hold_id=lot.id,
        )
        held.append((unit.serial, hold.id))
        placed.append((hold, unit, before))
    for hold, unit, before in placed:  # after every row lock is taken: the audit head is locked last
        audit_hold(session, actor=actor, action="hold.place", hold=hold, unit=unit, before=before, reason=reason)
    audit.record(
        session=session,
        actor=actor,
        action="lot_hold.place",
        entity_type="lot_hold",
        entity_id=str(lot.id),
        before=None,
        after={"lot_hold": audit.snapshot(lot), "held": [serial for serial, _ in held], "skipped_scrapped": skipped},
        reason=reason,
    )
    return LotHoldOutcome(identifier=identifier, kind=kind, held=held, skipped_scrapped=skipped, lot_hold_id=lot.id)


def release_hold(
    *,
    session: Session,
    hold_id: int,
    disposition: Disposition,
    reason: str,
    actor: Actor,
    signature: VerifiedSignature,
    reenter_at: str | None = None,
    then_reenter_at: str | None = None,
) -> m.Hold:
    """Release a hold with a disposition: rework (re-enter the route), scrap, or use as is.

    rework: the unit goes to ``reenter_at`` (a step of its route, or ``repair`` followed by
    ``then_reenter_at``); with no target it continues its pending rework path (the repair first when
    one is pending, then its re-entry step). A unit re-enters no later than the first step it has not
    passed. use_as_is: the attempt behind the hold, if its verdict that counts (an override's, else the
    engine's) is FAIL, counts as passed and the unit goes on as after that FAIL conceded.

    Needs the releaser's electronic signature, verified by the caller before this transaction."""
    unit_id = session.scalar(select(m.Hold.unit_id).where(m.Hold.id == hold_id))
    if unit_id is None:
        raise NotFound(f"hold {hold_id} does not exist")
    # The unit row, then the hold row (the lock order), each read again once locked: a release that
    # committed while this one waited must be seen, or a second disposition would overwrite the first.
    unit = session.scalars(
        select(m.Unit).where(m.Unit.id == unit_id).with_for_update().execution_options(populate_existing=True)
    ).one()
    hold = session.scalars(
        select(m.Hold).where(m.Hold.id == hold_id).with_for_update().execution_options(populate_existing=True)
    ).one()
    if hold.released_at is not None:
        raise Conflict(f"hold {hold_id} on {unit.serial} was already released ({hold.disposition})")
    released = _dispose(
        session,
        unit=unit,
        hold=hold,
        disposition=disposition,
        reason=reason,
        by=actor.username,
        now=utcnow(),
        reenter_at=reenter_at,
        then_reenter_at=then_reenter_at,
    )
    signed = signatures.sign(
        session=session,
        actor=actor,
        signature=signature,
        meaning=signatures.RELEASE_HOLD,
        reason=reason,
        entity_type="hold",
        entity_id=str(hold.id),
    )
    _sign_and_audit(session, actor=actor, released=[released], signed=signed, reason=reason)
    return hold


@dataclass(frozen=True, slots=True)
class _Released:
    """One hold released and its unit disposed of, with their states before, for the audit trail."""

    hold: m.Hold
    unit: m.Unit
    unit_before: dict[str, object]
    hold_before: dict[str, object]
    closed: list[tuple[m.Hold, dict[str, object]]]  # the unit's other holds a scrap closed, each with its state


def _dispose(
    session: Session,
    *,
    unit: m.Unit,
    hold: m.Hold,
    disposition: Disposition,
    reason: str,
    by: str,
    now: datetime,
    reenter_at: str | None,
    then_reenter_at: str | None,
) -> _Released:
    """Release one active hold, its unit and hold rows locked, and apply the disposition to the unit (the
    caller signs it and audits it)."""
    if then_reenter_at is not None and disposition is not Disposition.REWORK:
        raise InvalidInput(
            f"then_reenter_at names where {unit.serial} re-enters after a repair: it belongs to a rework release "
            f"with reenter_at=repair, not to {disposition.value}"
        )
    model = session.get(m.ProductModel, unit.product_model_id)
    assert model is not None
    route = repo.route_def(session, model.route_id)
    failed = session.get(m.OperationAttempt, hold.attempt_id) if hold.attempt_id else None
    unit_before, hold_before = unit_state(unit), audit.snapshot(hold)

    if disposition is Disposition.REWORK:
        unit.next_step, unit.reentry_step = _rework_target(
            session, unit=unit, route=route, reenter_at=reenter_at, then_reenter_at=then_reenter_at
        )
    elif (
        disposition is Disposition.USE_AS_IS
        and failed is not None
        and effective_verdict(session, failed) == Verdict.FAIL.value
    ):
        # A concession: the failed attempt (the engine's FAIL, or a PASS a quality engineer overrode to
        # FAIL) counts as passed and the unit goes on along its route, as after a conceded FAIL there.
        failed.use_as_is = True
        if route.step(failed.station_type) is not None:
            unit.next_step = route.following(failed.station_type)
        else:  # a repair: the unit re-enters where the repair would have sent it
            unit.next_step = unit.reentry_step
        unit.reentry_step = None

    hold.released_at = now
    hold.released_by = by
    hold.disposition = disposition.value
    hold.release_reason = reason
    unit.updated_at = now
    session.flush()

    closed: list[tuple[m.Hold, dict[str, object]]] = []
    if disposition is Disposition.SCRAP:
        for other in repo.active_holds(session, unit.id):
            if other.id != hold.id:
                closed.append((other, audit.snapshot(other)))
                other.released_at, other.released_by = now, by
                other.disposition, other.release_reason = disposition.value, f"unit scrapped (hold {hold.id})"
        unit.status = UnitStatus.SCRAPPED.value
    else:
        settle_status(session, unit=unit, route=route)
    return _Released(hold=hold, unit=unit, unit_before=unit_before, hold_before=hold_before, closed=closed)


def _sign_and_audit(
    session: Session, *, actor: Actor, released: list[_Released], signed: m.ESignature, reason: str
) -> None:
    """Store the one signature with every hold it released, then one audit event per hold (the release, and
    each hold a scrap closed with it), as a single release writes them."""
    for r in released:
        r.hold.release_signature_id = signed.id
    session.flush()
    for r in released:
        audit_hold(
            session,
            actor=actor,
            action=f"hold.release.{r.hold.disposition}",
            hold=r.hold,
            unit=r.unit,
            before=r.unit_before,
            hold_before=r.hold_before,
            reason=reason,
            signature=signed,
        )
        for other, other_before in r.closed:
            audit_hold(
                session,
                actor=actor,
                action="hold.release.scrap",
                hold=other,
                unit=r.unit,
                before=r.unit_before,
                hold_before=other_before,
                reason=other.release_reason,
                signature=signed,
            )


@dataclass(frozen=True, slots=True)
class LotHoldRelease:
    """What releasing a lot hold did: the holds it released under one signature, those released before."""

    lot_hold: m.LotHold
    released: list[m.Hold]
    already_released: list[m.Hold]  # released one by one before (or closed by a scrap), left as they were
    serials: dict[int, str]  # by unit id, for every hold of the lot hold
    still_on_hold: list[str]  # units released here that another hold keeps on hold
    signature: m.ESignature


def release_lot_hold(
    *,
    session: Session,
    lot_hold_id: int,
    disposition: Disposition,
    reason: str,
    actor: Actor,
    signature: VerifiedSignature,
    reenter_at: str | None = None,
    then_reenter_at: str | None = None,
) -> LotHoldRelease:
    """Release every hold of a lot hold that is still active, with one disposition and one e-signature, in
    one transaction: each hold as ``release_hold`` releases it (the same disposition rules, the same audit
    event per hold, signed by the one signature), or none of them when one unit refuses the disposition.

    Holds released before are reported and left as they were; a unit another hold keeps on hold stays on
    hold. Needs the releaser's electronic signature, verified by the caller before this transaction."""
    lot = session.get(m.LotHold, lot_hold_id)
    if lot is None:
        raise NotFound(f"lot hold {lot_hold_id} does not exist")
    # Every unit row of the lot hold, in id order as hold_by_component locks them, then its hold rows: the
    # lock order of release_hold, each read again once locked, so a release that committed meanwhile is seen.
    of_lot = select(m.Hold.unit_id).where(m.Hold.lot_hold_id == lot.id)
    units = {
        u.id: u
        for u in session.scalars(
            select(m.Unit)
            .where(m.Unit.id.in_(of_lot))
            .order_by(m.Unit.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    holds_of_lot = session.scalars(
        select(m.Hold)
        .where(m.Hold.lot_hold_id == lot.id)
        .order_by(m.Hold.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    serials = {unit_id: unit.serial for unit_id, unit in units.items()}
    active = [h for h in holds_of_lot if h.released_at is None]
    before = [h for h in holds_of_lot if h.released_at is not None]
    what = f"lot hold {lot.id} ({_lot_words(lot)})"
    if not active:
        raise Conflict(
            f"every hold of {what} was already released: "
            + ", ".join(f"{serials[h.unit_id]} ({h.disposition})" for h in before)
        )
    now = utcnow()
    try:
        released = [
            _dispose(
                session,
                unit=units[hold.unit_id],
                hold=hold,
                disposition=disposition,
                reason=reason,
                by=actor.username,
                now=now,
                reenter_at=reenter_at,
                then_reenter_at=then_reenter_at,
            )
            for hold in active
        ]
    except DomainError as refused:  # the transaction rolls back: one unit's refusal releases nothing
        raise type(refused)(f"nothing of {what} was released: {refused.detail}", **refused.extensions) from None
    signed = signatures.sign(
        session=session,
        actor=actor,
        signature=signature,
        meaning=signatures.RELEASE_LOT_HOLD,
        reason=reason,
        entity_type="lot_hold",
        entity_id=str(lot.id),
    )
    _sign_and_audit(session, actor=actor, released=released, signed=signed, reason=reason)
    audit.record(
        session=session,
        actor=actor,
        action=f"lot_hold.release.{disposition.value}",
        entity_type="lot_hold",
        entity_id=str(lot.id),
        before={"active": [_hold_ref(h, serials) for h in active]},
        after={
            "released": [_hold_ref(h, serials) for h in active],
            "already_released": [_hold_ref(h, serials) for h in before],
        },
        reason=reason,
        signature=signed,
    )
    return LotHoldRelease(
        lot_hold=lot,
        released=active,
        already_released=before,
        serials=serials,
        still_on_hold=[r.unit.serial for r in released if r.unit.status == UnitStatus.ON_HOLD],
        signature=signed,
    )


def _lot_words(lot: m.LotHold) -> str:
    return f"{lot.kind} {lot.identifier}" if lot.kind else lot.identifier


def _hold_ref(hold: m.Hold, serials: dict[int, str]) -> dict[str, object]:
    return {"hold": hold.id, "serial": serials[hold.unit_id], "disposition": hold.disposition}


def effective_verdict(session: Session, attempt: m.OperationAttempt) -> str | None:
    """The verdict that counts: the latest override, else the engine's."""
    latest = session.scalars(
        select(m.VerdictOverride.verdict)
        .where(m.VerdictOverride.attempt_id == attempt.id)
        .order_by(m.VerdictOverride.id.desc())
        .limit(1)
    ).first()
    return latest or attempt.verdict


def passed_steps(session: Session, unit_id: int) -> set[str]:
    """The station types whose latest result counts as passed: a PASS no override turned into a FAIL,
    or a concession (an override to PASS, a use-as-is release). Open and aborted attempts have no result."""
    a, o = m.OperationAttempt, m.VerdictOverride
    latest_override = (
        select(o.verdict).where(o.attempt_id == a.id).order_by(o.id.desc()).limit(1).correlate(a).scalar_subquery()
    )
    rows = session.execute(
        select(a.station_type, a.status, a.use_as_is, latest_override)
        .where(a.unit_id == unit_id, a.status.not_in([AttemptStatus.OPEN.value, AttemptStatus.ABORTED.value]))
        .order_by(a.id)
    ).all()
    latest: dict[str, bool] = {}
    for station_type, status, use_as_is, override in rows:
        latest[station_type] = bool(use_as_is) or (status == AttemptStatus.PASSED and override != Verdict.FAIL.value)
    return {station_type for station_type, passed in latest.items() if passed}


def settle_status(session: Session, *, unit: m.Unit, route: routing.RouteDef) -> None:
    """The unit's status once a hold or a verdict is decided: on hold while any hold stays, in process
    while it has a next step, finished only when it passed (or was conceded at) its route's last step."""
    if repo.active_holds(session, unit.id):
        unit.status = UnitStatus.ON_HOLD.value
    elif unit.next_step is not None:
        unit.status = UnitStatus.IN_PROCESS.value
    elif routing.route_complete(route, passed_steps(session, unit.id)):
        unit.status = UnitStatus.FINISHED.value
    else:
        missing = routing.first_step_not_passed(route, passed_steps(session, unit.id)) or route.steps[-1].station_type
        raise Conflict(
            f"{unit.serial} has not passed {missing}, so it cannot finish route {route.code}; release it for "
            f"rework with reenter_at naming where it re-enters (no later than {missing})"
        )


def _rework_target(
    session: Session,
    *,
    unit: m.Unit,
    route: routing.RouteDef,
    reenter_at: str | None,
    then_reenter_at: str | None,
) -> tuple[str, str | None]:
    """(next step, re-entry step after a repair) for a rework release, checked against the route and
    against what the unit has passed: it may go back, never skip a step it has not passed."""
    steps = [s.station_type for s in route.steps]
    choices = f"{', '.join(steps)} or repair"
    # no target: the unit's pending rework path (its repair first, when one is pending)
    target = reenter_at or unit.next_step or unit.reentry_step
    if reenter_at is None and then_reenter_at is not None and target != routing.REPAIR:
        # no repair pending: then_reenter_at alone says where the unit goes after a repair nobody sent it to
        otherwise = (
            f"leave then_reenter_at out and {unit.serial} continues at {target}"
            if target is not None
            else f"leave then_reenter_at out and give reenter_at, one of {choices}"
        )
        raise InvalidInput(
            f"then_reenter_at needs reenter_at=repair: the repair bench comes first, then {unit.serial} re-enters "
            f"at {then_reenter_at}; give reenter_at=repair, then_reenter_at={then_reenter_at}, or {otherwise}",
            field="reenter_at",
        )
    if target is None:
        raise InvalidInput(
            f"say where {unit.serial} re-enters route {route.code}: reenter_at must be one of {choices}",
            field="reenter_at",
        )
    if target != routing.REPAIR and route.step(target) is None:
        raise InvalidInput(
            f"{target} is not a step of route {route.code} that {unit.serial} follows: reenter_at must be one "
            f"of {choices}",
            field="reenter_at",
        )
    if target != routing.REPAIR and then_reenter_at is not None:
        raise InvalidInput(
            f"then_reenter_at names where {unit.serial} re-enters after a repair, but this rework sends it to "
            f"{target}: give reenter_at=repair with it, or leave then_reenter_at out",
            field="then_reenter_at",
        )
    after_repair: str | None = None
    if target == routing.REPAIR:
        after_repair = then_reenter_at or unit.reentry_step
        if after_repair is None:
            raise InvalidInput(
                f"a rework of {unit.serial} through repair needs the station where it re-enters afterwards: "
                f"give then_reenter_at, one of {', '.join(steps)}",
                field="then_reenter_at",
            )
        if route.step(after_repair) is None:
            raise InvalidInput(
                f"then_reenter_at {after_repair} is not a step of route {route.code}: it must be one of "
                f"{', '.join(steps)}",
                field="then_reenter_at",
            )
    entry = after_repair or target
    first_missing = routing.first_step_not_passed(route, passed_steps(session, unit.id))
    if first_missing is not None and steps.index(entry) > steps.index(first_missing):
        allowed = ", ".join(steps[: steps.index(first_missing) + 1])
        raise InvalidInput(
            f"{unit.serial} has not passed {first_missing}: it cannot re-enter at {entry}, past a step it has "
            f"not passed; choose {first_missing} or an earlier step ({allowed})",
            field="then_reenter_at" if after_repair else "reenter_at",
        )
    return target, after_repair
