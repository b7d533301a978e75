"""Specification revisions: draft → approved (by a quality engineer, with a reason) → effective.

An approved revision stores its fully resolved specification (limits, U, retest cap and the
product facts it judged against), so a later change of code defaults or master data cannot change
what an approved revision means. A unit is judged by the revision in force when its operation
started; an approval therefore never takes effect before the instant it is made.

Approving and editing a draft both lock the revision's row (SELECT … FOR UPDATE on PostgreSQL;
SQLite serialises writers) and re-read its status under the lock, so an edit either lands before an
approval, whose frozen document is then built from it, or is refused because the revision is approved.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ScalarSelect, bindparam, select
from sqlalchemy.orm import Session

import stations
from app import rules
from app.domain import routing
from app.domain.actors import Actor
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import audit, signatures
from app.services.clock import utcnow
from app.services.master_data import market_cap_g
from app.services.signatures import VerifiedSignature

#: Master data names constructions as the plant does; the rules engine by what matters to judging.
CONSTRUCTION: dict[str, Literal["monobloc", "split"]] = {"monobloc_sealed": "monobloc", "split_outdoor": "split"}

#: How far behind the server's clock a requested effective time may lie and still be accepted (clock
#: skew between tablets). Such a time is moved forward to the approval instant, never honoured: a unit
#: whose operation started before the approval keeps the revision it started under.
BACKDATE_TOLERANCE = timedelta(minutes=1)


def product_data(session: Session, model: m.ProductModel) -> rules.ProductData:
    """The facts of a product model that judging needs, from the master data."""
    cap = market_cap_g(session, market=model.market, refrigerant=model.refrigerant, construction=model.construction)
    return rules.ProductData(
        model_code=model.code,
        refrigerant=model.refrigerant,
        gwp=float(model.gwp),
        construction=CONSTRUCTION[model.construction],
        market=model.market,
        evi=model.evi,
        circuit_volume_l=model.internal_volume_l,
        max_allowable_pressure_bar_g=model.max_allowable_pressure_bar_g,
        nominal_charge_g=model.nominal_charge_g,
        charge_tolerance_g=model.charge_tolerance_g,
        market_cap_g=cap.max_charge_g if cap else None,
        market_cap_source=cap.source if cap else None,
        bom={
            "compressor": model.bom_compressor_model,
            "inverter": model.bom_inverter_model,
            "evi_valve": model.bom_evi_valve_model,
        },
        ratings=(
            rules.RatingPoint(
                point="A7/W35", mode="heating", capacity_kw=model.heating_a7w35_kw, efficiency=model.cop_a7w35
            ),
            rules.RatingPoint(
                point="A-7/W35", mode="heating", capacity_kw=model.heating_am7w35_kw, efficiency=model.cop_am7w35
            ),
            rules.RatingPoint(
                point="A35/W7", mode="cooling", capacity_kw=model.cooling_a35w7_kw, efficiency=model.eer_a35w7
            ),
        ),
    )


def _known_station_type(code: str) -> None:
    try:
        stations.get_station_type(code)
    except LookupError as exc:
        known = ", ".join(st.code for st in stations.all_station_types())
        raise InvalidInput(f"{code!r} is not a station type of this MES ({known})") from exc


def _on_route_of(session: Session, *, station_type: str, model: m.ProductModel) -> None:
    """Refuse a revision that would never judge a unit: its station type is not on the model's route.

    Repair is reached through rework rules, never as a step, so every model may have a repair revision."""
    if station_type == routing.REPAIR:
        return
    steps = session.scalars(
        select(m.RouteStep.station_type).where(m.RouteStep.route_id == model.route_id).order_by(m.RouteStep.position)
    ).all()
    if station_type in steps:
        return
    route = session.get(m.Route, model.route_id)
    assert route is not None
    raise InvalidInput(
        f"{station_type} is not a step of route {route.code} that {model.code} follows "
        f"({' → '.join(steps)}): a revision for it would never judge a unit; draft it for a station type of "
        "the route, or add the step to the route first"
    )


def create_draft(
    *,
    session: Session,
    station_type: str,
    product_model_code: str,
    overrides: dict[str, Any],
    note: str,
    actor: Actor,
    based_on_id: int | None = None,
) -> m.SpecRevision:
    """A new draft; its overrides are checked against the station's limits at once."""
    _known_station_type(station_type)
    model = repo.product_model_by_code(session, product_model_code)
    _on_route_of(session, station_type=station_type, model=model)
    _resolve(session, station_type=station_type, model=model, overrides=overrides, revision_id=None)
    if based_on_id is not None:
        base = get_revision(session=session, revision_id=based_on_id)
        if (base.station_type, base.product_model_id) != (station_type, model.id):
            raise InvalidInput(f"revision {based_on_id} is for another station type or product model")
    revision = m.SpecRevision(
        station_type=station_type,
        product_model_id=model.id,
        status="draft",
        overrides=json.dumps(overrides),
        document=None,
        based_on_id=based_on_id,
        note=note,
        created_at=utcnow(),
        created_by=actor.username,
    )
    session.add(revision)
    session.flush()
    _audit(session, actor=actor, action="spec_revision.draft", revision=revision, before=None, reason=note or None)
    return revision


def _revision_state(revision: m.SpecRevision) -> dict[str, Any]:
    """A revision for audit events; its frozen document by digest (the document itself never changes)."""
    state = audit.snapshot(revision, without=("document",))
    document = revision.document
    state["document_sha256"] = hashlib.sha256(document.encode("utf-8")).hexdigest() if document else None
    return state


def _audit(
    session: Session,
    *,
    actor: Actor,
    action: str,
    revision: m.SpecRevision,
    before: dict[str, Any] | None,
    reason: str | None,
    signature: m.ESignature | None = None,
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="spec_revision",
        entity_id=str(revision.id),
        before=before,
        after=_revision_state(revision),
        reason=reason,
        signature=signature,
    )


def update_draft(
    *, session: Session, revision_id: int, overrides: dict[str, Any], note: str | None, actor: Actor
) -> m.SpecRevision:
    """Change a draft's overrides (and note); refused once the revision is approved."""
    revision = _locked_revision(session, revision_id)
    if revision.status != "draft":
        raise Conflict(f"specification revision {revision_id} is approved; draft a new revision to change it")
    before = _revision_state(revision)
    model = session.get(m.ProductModel, revision.product_model_id)
    assert model is not None
    _resolve(session, station_type=revision.station_type, model=model, overrides=overrides, revision_id=None)
    revision.overrides = json.dumps(overrides)
    if note is not None:
        revision.note = note
    session.flush()
    _audit(session, actor=actor, action="spec_revision.update", revision=revision, before=before, reason=None)
    return revision


def approve(
    *,
    session: Session,
    revision_id: int,
    actor: Actor,
    reason: str,
    signature: VerifiedSignature,
    effective_from: datetime | None = None,
) -> m.SpecRevision:
    """Approve a draft: resolve and freeze its specification; it judges operations started from then on.

    ``effective_from`` may be later than now, or up to ``BACKDATE_TOLERANCE`` earlier (a tablet's clock
    behind the server's), in which case the revision takes effect now. Needs the approver's electronic
    signature, verified by the caller before this transaction."""
    return _approve(
        session=session,
        revision_id=revision_id,
        actor=actor,
        reason=reason,
        signature=signature,
        effective_from=effective_from,
    )


def _approve(
    *,
    session: Session,
    revision_id: int,
    actor: Actor,
    reason: str,
    signature: VerifiedSignature | None,
    effective_from: datetime | None = None,
) -> m.SpecRevision:
    revision = _locked_revision(session, revision_id)
    if revision.status != "draft":
        raise Conflict(f"specification revision {revision_id} is already approved")
    now = utcnow()
    if effective_from is not None and effective_from < now - BACKDATE_TOLERANCE:
        raise InvalidInput(
            "effective_from lies in the past: an approval cannot change how operations already started are judged"
        )
    # within the tolerance a past time is clock skew: the revision takes effect now, not before
    effective = max(effective_from or now, now)
    model = session.get(m.ProductModel, revision.product_model_id)
    assert model is not None
    before = _revision_state(revision)
    spec = _resolve(
        session,
        station_type=revision.station_type,
        model=model,
        overrides=json.loads(revision.overrides),
        revision_id=revision.id,
    )
    signed = None
    if signature is not None:  # stored first: the revision's row cannot change once it is flushed as approved
        signed = signatures.sign(
            session=session,
            actor=actor,
            signature=signature,
            meaning=signatures.APPROVE_SPEC_REVISION,
            reason=reason,
            entity_type="spec_revision",
            entity_id=str(revision.id),
        )
        revision.approval_signature_id = signed.id
    revision.document = json.dumps(rules.spec_to_document(spec), sort_keys=True)
    revision.status = "approved"
    revision.approved_at = now
    revision.approved_by = actor.username
    revision.approval_reason = reason
    revision.effective_from = effective
    session.flush()
    _audit(
        session,
        actor=actor,
        action="spec_revision.approve",
        revision=revision,
        before=before,
        reason=reason,
        signature=signed,
    )
    return revision


def _resolve(
    session: Session, *, station_type: str, model: m.ProductModel, overrides: dict[str, Any], revision_id: int | None
) -> rules.Spec:
    try:
        return rules.build_spec(
            station_type=station_type,
            product=product_data(session, model),
            overrides=overrides,
            revision_id=revision_id,
        )
    except rules.SpecError as exc:
        raise InvalidInput(f"the specification is not valid: {exc}") from exc


def _locked_revision(session: Session, revision_id: int) -> m.SpecRevision:
    """The revision as committed now, its row locked until the transaction ends (so its status and
    overrides cannot change under an approval or an edit)."""
    revision = session.get(m.SpecRevision, revision_id, with_for_update=True, populate_existing=True)
    if revision is None:
        raise NotFound(f"specification revision {revision_id} does not exist")
    return revision


def get_revision(*, session: Session, revision_id: int) -> m.SpecRevision:
    revision = session.get(m.SpecRevision, revision_id)
    if revision is None:
        raise NotFound(f"specification revision {revision_id} does not exist")
    return revision


def list_revisions(
    *, session: Session, station_type: str | None, product_model_code: str | None
) -> list[tuple[m.SpecRevision, str]]:
    query = select(m.SpecRevision, m.ProductModel.code).join(
        m.ProductModel, m.ProductModel.id == m.SpecRevision.product_model_id
    )
    if station_type is not None:
        query = query.where(m.SpecRevision.station_type == station_type)
    if product_model_code is not None:
        query = query.where(m.ProductModel.code == product_model_code)
    return [(r, code) for r, code in session.execute(query.order_by(m.SpecRevision.id)).all()]


_REV = repo.table(m.SpecRevision).c


def effective_revision_id(product_model_id: Any) -> ScalarSelect[int]:
    """The id of the revision :func:`effective_spec` reads, as a column of a larger statement: for the
    product model ``product_model_id`` (a column), with the parameters ``station_type`` and ``at``."""
    return (
        select(_REV.id)
        .where(
            _REV.station_type == bindparam("station_type"),
            _REV.product_model_id == product_model_id,
            _REV.status == "approved",
            _REV.effective_from <= bindparam("at"),
        )
        .order_by(_REV.effective_from.desc(), _REV.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_EFFECTIVE = select(effective_revision_id(bindparam("product_model_id")))
_DOCUMENT = select(_REV.document).where(_REV.id == bindparam("revision_id"))
_SPEC_CACHE: dict[tuple[str, int], rules.Spec] = {}


def effective_spec(session: Session, *, station_type: str, product_model_id: int, at: datetime) -> rules.Spec | None:
    """The approved specification in force at ``at`` (None when there is none).

    Which revision is in force is read every time (another process may approve one at any moment);
    what an approved revision says never changes, so its document is read and parsed once per
    process and database, keyed by the revision's id.
    """
    revision_id = (
        repo.core(session)
        .execute(_EFFECTIVE, {"station_type": station_type, "product_model_id": product_model_id, "at": at})
        .scalar_one()
    )
    return None if revision_id is None else approved_spec(session, revision_id)


def approved_spec(session: Session, revision_id: int) -> rules.Spec:
    """The specification of an approved revision (read and parsed once per process and database)."""
    connection = repo.core(session)
    key = (str(connection.engine.url), revision_id)
    spec = _SPEC_CACHE.get(key)
    if spec is None:
        document = connection.execute(_DOCUMENT, {"revision_id": revision_id}).scalar_one()
        assert document is not None  # an approved revision always has its document (check constraint)
        spec = rules.spec_from_document(json.loads(document), revision_id=revision_id)
        if len(_SPEC_CACHE) > 10_000:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec
    return spec


def spec_of_revision(revision: m.SpecRevision, session: Session) -> rules.Spec:
    """The specification a revision stands for: frozen if approved, resolved now if a draft."""
    if revision.document is not None:
        return rules.spec_from_document(json.loads(revision.document), revision_id=revision.id)
    model = session.get(m.ProductModel, revision.product_model_id)
    assert model is not None
    return _resolve(
        session,
        station_type=revision.station_type,
        model=model,
        overrides=json.loads(revision.overrides),
        revision_id=revision.id,
    )


def ensure_initial_revisions(*, session: Session, actor: Actor, reason: str) -> int:
    """Approve a revision of the default limits for every (station type x product model) that has none.

    For loading a new line by its installer (``actor`` the MES itself): these approvals are audited but not
    e-signed; every approval by a person goes through ``approve`` and its signature."""
    created = 0
    route_types = {(r.route_id, r.station_type) for r in session.scalars(select(m.RouteStep))}
    for model in session.scalars(select(m.ProductModel).order_by(m.ProductModel.id)):
        types = sorted({t for route_id, t in route_types if route_id == model.route_id} | {"repair"})
        for station_type in types:
            exists = session.scalars(
                select(m.SpecRevision.id).where(
                    m.SpecRevision.station_type == station_type,
                    m.SpecRevision.product_model_id == model.id,
                    m.SpecRevision.status == "approved",
                )
            ).first()
            if exists is not None:
                continue
            draft = create_draft(
                session=session,
                station_type=station_type,
                product_model_code=model.code,
                overrides={},
                note="station defaults (line.md)",
                actor=actor,
            )
            _approve(session=session, revision_id=draft.id, actor=actor, reason=reason, signature=None)
            created += 1
    return created
