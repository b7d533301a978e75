"""Specification revisions: list, view, compare two, draft and approve (with the signed-in approver's
e-signature: password re-entered, and a reason)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

import stations
from app import rules
from app.api.authz import CurrentActorDep, check_signature
from app.api.deps import SessionDep
from app.api.schemas import MAX_INTEGER_ID, SpecRevisionIdPath
from app.domain.actors import Role
from app.domain.errors import DomainError
from app.persistence import models as m
from app.security.access import allow
from app.services import signatures, specs
from app.services.signatures import VerifiedSignature
from app.ui.pages import PageRoute
from app.ui.templating import render

router = APIRouter(route_class=PageRoute)
# Revision ids as the database stores them (INTEGER): a larger number names no revision (422, not 500).
RevisionIdQuery = Annotated[int, Query(ge=1, le=MAX_INTEGER_ID)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    product_model: Name
    overrides: dict[str, Any] = Field(default_factory=dict)
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
    based_on: Annotated[int, Field(ge=1, le=MAX_INTEGER_ID)] | None = None


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
    secret: Annotated[str, StringConstraints(min_length=1, max_length=256)]  # the approver's password (e-signature)


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """A nested document as ``a.b.c -> value`` pairs, for comparing two revisions line by line."""
    if isinstance(document, dict):
        flat: dict[str, Any] = {}
        for key, value in document.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: document}


def _document(session: SessionDep, revision: m.SpecRevision) -> dict[str, Any]:
    return rules.spec_to_document(specs.spec_of_revision(revision, session))


@router.get(
    "/specs", response_class=HTMLResponse, dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)]
)
def spec_list(request: Request, session: SessionDep, station_type: str = "", model: str = "") -> HTMLResponse:
    """Every revision (filtered by station type and product model), newest last."""
    rows = specs.list_revisions(session=session, station_type=station_type or None, product_model_code=model or None)
    models = list(session.execute(select(m.ProductModel.code).order_by(m.ProductModel.code)).scalars())
    return render(
        request,
        "specs.html",
        rows=rows,
        signatures=signatures.by_ids(session, [r.approval_signature_id for r, _code in rows]),
        station_types=[st.code for st in stations.all_station_types()],
        models=models,
        station_type=station_type,
        model=model,
    )


@router.get(
    "/specs/compare",
    response_class=HTMLResponse,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def spec_compare(request: Request, session: SessionDep, a: RevisionIdQuery, b: RevisionIdQuery) -> Response:
    """Two revisions side by side; differing lines are marked."""
    try:
        left = specs.get_revision(session=session, revision_id=a)
        right = specs.get_revision(session=session, revision_id=b)
        flat_a, flat_b = flatten(_document(session, left)), flatten(_document(session, right))
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)
    keys = sorted(set(flat_a) | set(flat_b))
    lines = [(k, flat_a.get(k), flat_b.get(k), flat_a.get(k) != flat_b.get(k)) for k in keys]
    return render(request, "spec_compare.html", left=left, right=right, lines=lines)


@router.get(
    "/specs/{revision_id}",
    response_class=HTMLResponse,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def spec_view(request: Request, revision_id: SpecRevisionIdPath, session: SessionDep) -> Response:
    """One revision: status, who drafted and approved it and why, overrides, resolved limits."""
    try:
        revision = specs.get_revision(session=session, revision_id=revision_id)
        document = _document(session, revision)
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)
    model = session.get(m.ProductModel, revision.product_model_id)
    station_type = stations.get_station_type(revision.station_type)
    return render(
        request,
        "spec_view.html",
        r=revision,
        model_code=model.code if model else "?",
        propagated={lim.name for lim in station_type.limits if lim.uncertainty_from_model},
        setting_units={setting.name: setting.unit for setting in station_type.settings},
        setting_notes={setting.name: setting.note for setting in station_type.settings},
        overrides=json.dumps(json.loads(revision.overrides), indent=2),
        document=document,
        signature=session.get(m.ESignature, revision.approval_signature_id) if revision.approval_signature_id else None,
    )


@router.post("/specs/draft", dependencies=[allow(Role.QUALITY_ENGINEER)])
def spec_draft(body: DraftIn, session: SessionDep, actor: CurrentActorDep) -> dict[str, object]:
    """A new draft; its overrides are checked at once (422 names the problem)."""
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
        return {"id": revision.id}


@router.post("/specs/{revision_id}/approve", dependencies=[allow(Role.QUALITY_ENGINEER)])
async def spec_approve(
    revision_id: SpecRevisionIdPath, body: ApproveIn, request: Request, session: SessionDep, actor: CurrentActorDep
) -> dict[str, object]:
    """Approve a draft, e-signed by the signed-in approver with a reason; effective from now."""
    signer = await check_signature(request, actor=actor, secret=body.secret)
    signature = VerifiedSignature.of(signer)

    def approve() -> dict[str, object]:
        with session.begin():
            revision = specs.approve(
                session=session, revision_id=revision_id, actor=actor, reason=body.reason, signature=signature
            )
            return {"id": revision.id, "status": revision.status}

    return await run_in_threadpool(approve)
