"""Reverse genealogy: every unit that consumed a lot or component, one action to hold them all, and the lot
holds placed on it, each released whole through the REST API with one e-signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from app.api.authz import CurrentActorDep
from app.api.deps import SessionDep
from app.domain.actors import Role
from app.domain.results import ComponentKind
from app.security.access import allow
from app.services import holds
from app.ui.lot import lot_hold_route_steps, lot_holds, lot_view
from app.ui.templating import render

router = APIRouter()
KINDS = [k.value for k in ComponentKind]
SHOWN_UNITS = 500  # a lot of 5,000 units: counts cover all, the table shows the first units (every row of each)


class HoldAllIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    kind: ComponentKind | None = None
    reason: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]


@router.get(
    "/genealogy", response_class=HTMLResponse, dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)]
)
def genealogy_page(request: Request, session: SessionDep, identifier: str = "", kind: str = "") -> HTMLResponse:
    """Every unit that consumed ``identifier`` with its state; a form holds them all; the lot holds placed on it,
    a form for each still in force releases it whole."""
    identifier = identifier.strip()[:64]
    chosen = kind if kind in KINDS else None
    view = lot_view(session=session, identifier=identifier, kind=chosen, limit=SHOWN_UNITS) if identifier else None
    holds_placed = lot_holds(session=session, identifier=identifier, kind=chosen) if identifier else []
    in_force = [h.id for h in holds_placed if h.active]
    return render(
        request,
        "genealogy.html",
        identifier=identifier,
        kind=chosen or "",
        kinds=KINDS,
        entries=view.entries if view else [],
        total=view.total if view else 0,
        shown=view.shown if view else 0,
        statuses=view.statuses if view else {},
        spellings=view.spellings if view else (),
        verdicts=view.verdicts if view else {},
        lot_holds=holds_placed,
        lot_hold_steps=lot_hold_route_steps(session=session, lot_hold_ids=in_force),
    )


@router.post("/genealogy/hold", dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER)])
def hold_all(body: HoldAllIn, session: SessionDep, actor: CurrentActorDep) -> dict[str, object]:
    """Hold every unit that consumed the identifier, in one transaction, with one reason."""
    with session.begin():
        outcome = holds.hold_by_component(
            session=session,
            identifier=body.identifier,
            kind=body.kind.value if body.kind else None,
            reason=body.reason,
            actor=actor,
        )
        return {
            "held": len(outcome.held),
            "skipped_scrapped": outcome.skipped_scrapped,
            "lot_hold_id": outcome.lot_hold_id,
        }
