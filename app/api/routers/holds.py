"""Holds on units and lots, and their release with a disposition."""

from __future__ import annotations

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from app.api import presenters, schemas
from app.api.deps import SerialFormatDep, SessionDep
from app.domain.routing import Disposition
from app.persistence import models as m
from app.services import holds

router = APIRouter(tags=["holds"])
_ERRORS = schemas.problem_responses(404, 409, 422)


@router.post(
    "/units/{serial}/holds",
    operation_id="holdUnit",
    summary="Put a unit on hold",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.HoldOut,
    responses=_ERRORS,
)
def hold_unit(
    serial: str, body: schemas.HoldRequest, session: SessionDep, serial_format: SerialFormatDep
) -> schemas.HoldOut:
    """A unit on hold cannot start anywhere until every hold on it is released."""
    serial_format.validate(serial)
    with session.begin():
        hold = holds.place_hold(session=session, serial=serial, reason=body.reason, by=body.by)
        return presenters.hold_out(hold, serial)


@router.post(
    "/holds/by-component",
    operation_id="holdByComponent",
    summary="Hold every unit that consumed a component serial or lot",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.LotHoldOut,
    responses=_ERRORS,
)
def hold_by_component(body: schemas.LotHoldRequest, session: SessionDep) -> schemas.LotHoldOut:
    with session.begin():
        outcome = holds.hold_by_component(
            session=session,
            identifier=body.identifier,
            kind=body.kind.value if body.kind else None,
            reason=body.reason,
            by=body.by,
        )
        held = {hid: serial for serial, hid in outcome.held}
        rows = session.scalars(select(m.Hold).where(m.Hold.id.in_(list(held)))).all() if held else []
        return schemas.LotHoldOut(
            identifier=outcome.identifier,
            kind=outcome.kind,
            held=[presenters.hold_out(h, held[h.id]) for h in rows],
            skipped_scrapped=outcome.skipped_scrapped,
        )


@router.post(
    "/holds/{hold_id}/release",
    operation_id="releaseHold",
    summary="Release a hold with a disposition",
    response_model=schemas.HoldOut,
    responses=_ERRORS,
)
def release_hold(hold_id: int, body: schemas.ReleaseRequest, session: SessionDep) -> schemas.HoldOut:
    """rework: the unit re-enters its route (``reenter_at`` or where its rework rule said);
    scrap: the unit is scrapped and every hold on it closed; use_as_is: a concession — a failed
    attempt behind the hold counts as passed and the unit goes on."""
    with session.begin():
        hold = holds.release_hold(
            session=session,
            hold_id=hold_id,
            disposition=Disposition(body.disposition),
            reason=body.reason,
            by=body.by,
            reenter_at=body.reenter_at,
        )
        serial = session.scalars(select(m.Unit.serial).where(m.Unit.id == hold.unit_id)).one()
        return presenters.hold_out(hold, serial)


@router.get(
    "/holds", operation_id="listHolds", summary="List holds", response_model=list[schemas.HoldOut], responses=_ERRORS
)
def list_holds(
    session: SessionDep,
    active: bool = Query(default=True, description="Only holds not yet released"),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[schemas.HoldOut]:
    query = select(m.Hold, m.Unit.serial).join(m.Unit, m.Unit.id == m.Hold.unit_id)
    if active:
        query = query.where(m.Hold.released_at.is_(None))
    rows = session.execute(query.order_by(m.Hold.id.desc()).limit(limit)).all()
    return [presenters.hold_out(h, serial) for h, serial in rows]
