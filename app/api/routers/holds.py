"""Holds on units and lots, and their release with a disposition: one hold, or a whole lot hold at once."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from app.api import presenters, schemas
from app.api.authz import CurrentActorDep, check_signature
from app.api.deps import SerialFormatDep, SessionDep
from app.api.schemas import MAX_BIGINT_ID
from app.domain.actors import Actor, Role
from app.domain.routing import Disposition
from app.persistence import models as m
from app.security.access import allow
from app.services import holds, signatures
from app.services.signatures import VerifiedSignature

router = APIRouter(tags=["holds"])
_ERRORS = schemas.problem_responses(404, 409, 422)


@router.post(
    "/units/{serial}/holds",
    operation_id="holdUnit",
    summary="Put a unit on hold",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.HoldOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER)],
)
def hold_unit(
    serial: str, body: schemas.HoldRequest, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> schemas.HoldOut:
    """A unit on hold cannot start anywhere until every hold on it is released."""
    serial_format.validate(serial)
    with session.begin():
        hold = holds.place_hold(session=session, serial=serial, reason=body.reason, actor=actor)
        return presenters.hold_out(hold, serial)


@router.post(
    "/holds/by-component",
    operation_id="holdByComponent",
    summary="Hold every unit that consumed a component serial or lot",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.LotHoldOut,
    responses=_ERRORS,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER)],
)
def hold_by_component(body: schemas.LotHoldRequest, session: SessionDep, actor: CurrentActorDep) -> schemas.LotHoldOut:
    with session.begin():
        outcome = holds.hold_by_component(
            session=session,
            identifier=body.identifier,
            kind=body.kind.value if body.kind else None,
            reason=body.reason,
            actor=actor,
        )
        held = {hid: serial for serial, hid in outcome.held}
        rows = session.scalars(select(m.Hold).where(m.Hold.id.in_(list(held)))).all() if held else []
        return schemas.LotHoldOut(
            lot_hold_id=outcome.lot_hold_id,
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
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER)],
)
async def release_hold(
    hold_id: schemas.HoldIdPath,
    body: schemas.ReleaseRequest,
    request: Request,
    session: SessionDep,
    actor: CurrentActorDep,
) -> schemas.HoldOut:
    """rework: the unit re-enters its route at ``reenter_at``, or goes to ``repair`` and then re-enters at
    ``then_reenter_at``; without them it continues its pending rework path (repair first when one is pending);
    it may go back on its route but never past the first step it has not passed (422 names that step);
    scrap: the unit is scrapped and every hold on it closed; use_as_is: a concession — the attempt
    behind the hold, when its verdict that counts (an override's, else the engine's) is FAIL, counts as
    passed and the unit goes on as after that step. Needs the releaser's
    e-signature (``signature.secret``: password or PIN); a wrong one changes nothing (403)."""
    signature = await _verified_signature(request, actor=actor, body=body)

    def release() -> schemas.HoldOut:
        with session.begin():
            hold = holds.release_hold(
                session=session,
                hold_id=hold_id,
                disposition=Disposition(body.disposition),
                reason=body.reason,
                actor=actor,
                signature=signature,
                reenter_at=body.reenter_at,
                then_reenter_at=body.then_reenter_at,
            )
            serial = session.scalars(select(m.Unit.serial).where(m.Unit.id == hold.unit_id)).one()
            signed = session.get(m.ESignature, hold.release_signature_id)
            return presenters.hold_out(hold, serial, signed)

    return await run_in_threadpool(release)


@router.post(
    "/lot-holds/{lot_hold_id}/release",
    operation_id="releaseLotHold",
    summary="Release every hold of a lot hold with one disposition and one e-signature",
    response_model=schemas.LotHoldReleaseOut,
    responses=_ERRORS,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER)],
)
async def release_lot_hold(
    lot_hold_id: schemas.LotHoldIdPath,
    body: schemas.ReleaseRequest,
    request: Request,
    session: SessionDep,
    actor: CurrentActorDep,
) -> schemas.LotHoldReleaseOut:
    """Releases, in one transaction, every hold of the lot hold (the holds one hold-by-component request
    placed) that is still active, each as ``POST /holds/{id}/release`` would with this body, all signed by one
    e-signature; a wrong password changes nothing (403). Holds released before are listed in
    ``already_released`` and left as they were; a unit another hold keeps on hold stays on hold
    (``still_on_hold``). If the disposition cannot apply to one unit (e.g. a rework without ``reenter_at`` of a
    unit with no pending step), nothing is released and the refusal names that unit; a lot hold with nothing
    left to release is refused (409)."""
    signature = await _verified_signature(request, actor=actor, body=body)

    def release() -> schemas.LotHoldReleaseOut:
        with session.begin():
            outcome = holds.release_lot_hold(
                session=session,
                lot_hold_id=lot_hold_id,
                disposition=Disposition(body.disposition),
                reason=body.reason,
                actor=actor,
                signature=signature,
                reenter_at=body.reenter_at,
                then_reenter_at=body.then_reenter_at,
            )
            before = signatures.by_ids(session, [h.release_signature_id for h in outcome.already_released])
            lot = outcome.lot_hold
            return schemas.LotHoldReleaseOut(
                lot_hold_id=lot.id,
                identifier=lot.identifier,
                kind=lot.kind,
                disposition=body.disposition,
                released=[
                    presenters.hold_out(h, outcome.serials[h.unit_id], outcome.signature) for h in outcome.released
                ],
                already_released=[
                    presenters.hold_out(h, outcome.serials[h.unit_id], before.get(h.release_signature_id or 0))
                    for h in outcome.already_released
                ],
                still_on_hold=outcome.still_on_hold,
                signature=schemas.SignatureOut.model_validate(outcome.signature),
            )

    return await run_in_threadpool(release)


async def _verified_signature(request: Request, *, actor: Actor, body: schemas.ReleaseRequest) -> VerifiedSignature:
    """The releaser's e-signature, checked before the release's own transaction (a wrong secret: 403)."""
    signer = await check_signature(request, actor=actor, secret=body.signature.secret)
    return VerifiedSignature.of(signer, reason=body.signature.reason)


@router.get(
    "/holds",
    operation_id="listHolds",
    summary="List holds",
    response_model=list[schemas.HoldOut],
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_holds(
    session: SessionDep,
    active: bool = Query(default=True, description="Only holds not yet released"),
    lot_hold_id: int | None = Query(
        default=None, ge=1, le=MAX_BIGINT_ID, description="Only the holds of this lot hold (a hold's `lot_hold_id`)"
    ),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[schemas.HoldOut]:
    query = select(m.Hold, m.Unit.serial).join(m.Unit, m.Unit.id == m.Hold.unit_id)
    if active:
        query = query.where(m.Hold.released_at.is_(None))
    if lot_hold_id is not None:
        query = query.where(m.Hold.lot_hold_id == lot_hold_id)
    rows = session.execute(query.order_by(m.Hold.id.desc()).limit(limit)).all()
    signed = signatures.by_ids(session, [h.release_signature_id for h, _serial in rows])
    return [presenters.hold_out(h, serial, signed.get(h.release_signature_id or 0)) for h, serial in rows]
