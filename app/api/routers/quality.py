"""For quality engineers: station types, specification revisions, re-judging, nameplate data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

import stations
from app import rules
from app.api import presenters, schemas
from app.api.authz import CurrentActorDep, QualityEngineerDep, check_signature
from app.api.deps import SerialFormatDep, SessionDep
from app.domain.actors import Role
from app.domain.errors import NotFound
from app.domain.results import Verdict
from app.persistence import models as m
from app.security.access import allow
from app.services import overrides, rederive, rejudge, specs
from app.services.signatures import VerifiedSignature

router = APIRouter(tags=["quality"])
_ERRORS = schemas.problem_responses(404, 409, 422)
Reason = Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]


class StationTypeOut(BaseModel):
    """A station type as the registry declares it: schema, OPC UA node names, checks, default limits."""

    model_config = ConfigDict(extra="allow")
    code: str
    title: str


class SpecRevisionIn(BaseModel):
    """A draft: overrides of the station's default limits for one product model."""

    model_config = ConfigDict(extra="forbid")
    station_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    product_model: Annotated[str, StringConstraints(max_length=64)]
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='e.g. {"retest_cap": 1, "limits": {"o2_ppm": {"high": 40, "uncertainty": 1.5}}}',
    )
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
    based_on: Annotated[int, Field(ge=1, le=schemas.MAX_INTEGER_ID)] | None = None


class SpecDraftUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overrides: dict[str, Any]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ApprovalIn(BaseModel):
    """Approval of a draft; it judges operations started from ``effective_from`` (default: now)."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason
    effective_from: schemas.Instant | None = None
    signature: schemas.SignatureIn


class SpecRevisionOut(BaseModel):
    id: int
    station_type: str
    product_model: str
    status: Literal["draft", "approved"]
    overrides: dict[str, Any]
    specification: dict[str, Any] = Field(description="The resolved limits (frozen once approved)")
    based_on: int | None
    note: str
    created_at: datetime
    created_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    approval_reason: str | None
    approval_signature: schemas.SignatureOut | None = Field(description="The approver's e-signature")
    effective_from: datetime | None


class RejudgeIn(BaseModel):
    """Which stored results to judge again, and against which revision (a what-if: nothing is rewritten)."""

    model_config = ConfigDict(extra="forbid")
    spec_revision_id: Annotated[int, Field(ge=1, le=schemas.MAX_INTEGER_ID)]
    serial: Annotated[str, StringConstraints(max_length=64)] | None = None
    work_order: Annotated[str, StringConstraints(max_length=64)] | None = None
    since: schemas.Instant | None = None
    until: schemas.Instant | None = None


class RejudgeOut(BaseModel):
    spec_revision_id: int
    station_type: str
    product_model: str
    judged: int
    changed: int = Field(description="Attempts whose verdict would differ")
    truncated: bool = Field(description=f"True when more than {rejudge.MAX_ATTEMPTS} attempts matched")
    attempts: list[rejudge.RejudgedAttempt]


class RatingOut(BaseModel):
    point: str
    mode: str
    capacity_kw: float
    efficiency: float = Field(description="COP in heating, EER in cooling")


class NameplateOut(BaseModel):
    """What the F-gas rules require on the label, and the model's rating figures."""

    serial: str
    model_code: str
    refrigerant: str
    gwp: float
    charge_status: Literal["factory_charged", "charged_on_site", "not_charged_yet"]
    charge_text: str
    charged_mass_kg: float | None
    co2_equivalent_t: float | None
    hermetically_sealed: bool
    ratings: list[RatingOut]


@router.get(
    "/station-types",
    operation_id="listStationTypes",
    summary="Station types and their schemas",
    response_model=list[StationTypeOut],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_station_types() -> list[dict[str, Any]]:
    """Every registered station type: measurements (names, kinds, units), traces, components,
    OPC UA node names, checks, default limits with U, retest cap, rework defaults."""
    return [stations.describe_station_type(st) for st in stations.all_station_types()]


@router.get(
    "/station-types/{code}",
    operation_id="getStationType",
    summary="One station type",
    response_model=StationTypeOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_station_type(code: str) -> dict[str, Any]:
    try:
        return stations.describe_station_type(stations.get_station_type(code))
    except LookupError as exc:
        raise NotFound(f"{code!r} is not a station type of this MES") from exc


def _revision_out(session: SessionDep, revision: m.SpecRevision) -> SpecRevisionOut:
    model = session.get(m.ProductModel, revision.product_model_id)
    assert model is not None
    return SpecRevisionOut(
        id=revision.id,
        station_type=revision.station_type,
        product_model=model.code,
        status=revision.status,  # type: ignore[arg-type]
        overrides=json.loads(revision.overrides),
        specification=rules.spec_to_document(specs.spec_of_revision(revision, session)),
        based_on=revision.based_on_id,
        note=revision.note,
        created_at=revision.created_at,
        created_by=revision.created_by,
        approved_at=revision.approved_at,
        approved_by=revision.approved_by,
        approval_reason=revision.approval_reason,
        approval_signature=presenters.signature_out(
            session.get(m.ESignature, revision.approval_signature_id) if revision.approval_signature_id else None
        ),
        effective_from=revision.effective_from,
    )


@router.get(
    "/spec-revisions",
    operation_id="listSpecRevisions",
    summary="Specification revisions",
    response_model=list[SpecRevisionOut],
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_spec_revisions(
    session: SessionDep,
    station_type: str | None = Query(default=None, max_length=64),
    product_model: str | None = Query(default=None, max_length=64),
) -> list[SpecRevisionOut]:
    rows = specs.list_revisions(session=session, station_type=station_type, product_model_code=product_model)
    return [_revision_out(session, revision) for revision, _code in rows]


@router.get(
    "/spec-revisions/{revision_id}",
    operation_id="getSpecRevision",
    summary="One specification revision",
    response_model=SpecRevisionOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_spec_revision(revision_id: schemas.SpecRevisionIdPath, session: SessionDep) -> SpecRevisionOut:
    return _revision_out(session, specs.get_revision(session=session, revision_id=revision_id))


@router.post(
    "/spec-revisions",
    operation_id="draftSpecRevision",
    summary="Draft a specification revision",
    status_code=status.HTTP_201_CREATED,
    response_model=SpecRevisionOut,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER)],
)
def draft_spec_revision(body: SpecRevisionIn, session: SessionDep, actor: CurrentActorDep) -> SpecRevisionOut:
    """The overrides are checked against the station type's limits at once (422 names the problem)."""
    with session.begin():
        revision = specs.create_draft(
            session=session,
            station_type=body.station_type,
            product_model_code=body.product_model,
            overrides=body.overrides,
            note=body.note,
            actor=actor,
            based_on_id=body.based_on,
        )
        return _revision_out(session, revision)


@router.put(
    "/spec-revisions/{revision_id}",
    operation_id="updateSpecDraft",
    summary="Change a draft",
    response_model=SpecRevisionOut,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER)],
)
def update_spec_draft(
    revision_id: schemas.SpecRevisionIdPath, body: SpecDraftUpdate, session: SessionDep, actor: CurrentActorDep
) -> SpecRevisionOut:
    """Only drafts change; an approved revision is immutable (409)."""
    with session.begin():
        revision = specs.update_draft(
            session=session, revision_id=revision_id, overrides=body.overrides, note=body.note, actor=actor
        )
        return _revision_out(session, revision)


@router.post(
    "/spec-revisions/{revision_id}/approve",
    operation_id="approveSpecRevision",
    summary="Approve a draft (quality engineer, with a reason)",
    response_model=SpecRevisionOut,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER)],
)
async def approve_spec_revision(
    revision_id: schemas.SpecRevisionIdPath,
    body: ApprovalIn,
    request: Request,
    session: SessionDep,
    engineer: QualityEngineerDep,
) -> SpecRevisionOut:
    """Needs the approver's e-signature (``signature.secret``: password); a wrong one changes nothing (403)."""
    signer = await check_signature(request, actor=engineer, secret=body.signature.secret)
    signature = VerifiedSignature.of(signer, reason=body.signature.reason)

    def approve() -> SpecRevisionOut:
        with session.begin():
            revision = specs.approve(
                session=session,
                revision_id=revision_id,
                actor=engineer,
                reason=body.reason,
                signature=signature,
                effective_from=body.effective_from,
            )
            return _revision_out(session, revision)

    return await run_in_threadpool(approve)


@router.post(
    "/rejudge",
    operation_id="rejudge",
    summary="What-if: judge stored results with another revision",
    response_model=RejudgeOut,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER)],
)
def rejudge_units(body: RejudgeIn, session: SessionDep, serial_format: SerialFormatDep, request: Request) -> RejudgeOut:
    """Never rewrites a recorded verdict; reports which verdicts and checks would change."""
    report = rejudge.rejudge(
        session=session,
        serial_format=serial_format,
        expectations=request.app.state.judge.expectations,
        spec_revision_id=body.spec_revision_id,
        serial=body.serial,
        work_order=body.work_order,
        since=body.since,
        until=body.until,
    )
    return RejudgeOut(
        spec_revision_id=report.spec_revision_id,
        station_type=report.station_type,
        product_model=report.product_model,
        judged=report.judged,
        changed=report.changed,
        truncated=report.truncated,
        attempts=report.attempts,
    )


@router.get(
    "/attempts/{attempt_id}/rederivation",
    operation_id="rederiveVerdict",
    summary="Re-derive a recorded verdict from the stored result",
    response_model=rederive.Rederivation,
    responses=_ERRORS,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def rederive_verdict(attempt_id: schemas.AttemptIdPath, session: SessionDep, request: Request) -> rederive.Rederivation:
    """Judges the stored result again with the specification revision, cycle-model parameter set,
    retest count and judging instant the verdict recorded, and compares it check by check with the
    recorded checks (``reproduced``; ``differences`` say what disagrees). Writes nothing."""
    return rederive.rederive_attempt(
        session=session, expectations=request.app.state.judge.expectations, attempt_id=attempt_id
    )


@router.get(
    "/units/{serial}/nameplate",
    operation_id="getNameplate",
    summary="Nameplate data of a unit",
    response_model=NameplateOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_nameplate(serial: str, session: SessionDep, serial_format: SerialFormatDep) -> NameplateOut:
    """Refrigerant, charged mass (kg), GWP and CO2 equivalent (t) once the charge has passed, and the
    model's rating figures; split units say "charged on site"."""
    plate = rejudge.nameplate(session=session, serial_format=serial_format, serial=serial)
    return NameplateOut(
        serial=serial,
        model_code=plate.model_code,
        refrigerant=plate.refrigerant,
        gwp=plate.gwp,
        charge_status=plate.charge_status,
        charge_text=plate.charge_text,
        charged_mass_kg=plate.charged_mass_kg,
        co2_equivalent_t=plate.co2_equivalent_t,
        hermetically_sealed=plate.hermetically_sealed,
        ratings=[
            RatingOut(point=r.point, mode=r.mode, capacity_kw=r.capacity_kw, efficiency=r.efficiency)
            for r in plate.ratings
        ],
    )


@router.post(
    "/attempts/{attempt_id}/override",
    operation_id="overrideVerdict",
    summary="Override the verdict of a unit's latest result (quality engineer, with a reason)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.OverrideOut,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER)],
)
async def override_verdict(
    attempt_id: schemas.AttemptIdPath,
    body: schemas.OverrideIn,
    request: Request,
    session: SessionDep,
    engineer: QualityEngineerDep,
) -> schemas.OverrideOut:
    """Recorded beside the engine's verdict, never instead of it. PASS over a FAIL is a concession
    and the unit goes on; FAIL over a PASS sends it down the rework path. Needs the engineer's
    e-signature (``signature.secret``); a wrong one changes nothing (403)."""
    signer = await check_signature(request, actor=engineer, secret=body.signature.secret)
    signature = VerifiedSignature.of(signer, reason=body.signature.reason)

    def override() -> schemas.OverrideOut:
        with session.begin():
            record = overrides.override_verdict(
                session=session,
                attempt_id=attempt_id,
                verdict=Verdict(body.verdict),
                reason=body.reason,
                actor=engineer,
                signature=signature,
            )
            return presenters.override_out(record, session.get(m.ESignature, record.signature_id))

    return await run_in_threadpool(override)


@router.post(
    "/attempts/{attempt_id}/manual-checks",
    operation_id="recordManualCheck",
    summary="Record a manual check on an attempt",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ManualCheckOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER)],
)
def record_manual_check(
    attempt_id: schemas.AttemptIdPath, body: schemas.ManualCheckIn, session: SessionDep, actor: CurrentActorDep
) -> schemas.ManualCheckOut:
    """A FAIL puts the unit on hold for a quality engineer."""
    with session.begin():
        check = overrides.record_manual_check(
            session=session,
            attempt_id=attempt_id,
            name=body.name,
            verdict=Verdict(body.verdict),
            message=body.message,
            actor=actor,
        )
        return schemas.ManualCheckOut.model_validate(check)
