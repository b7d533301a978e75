"""The quality engineer's workbench: search, birth record (with plots; hold, release and override with an
e-signature through the REST API), CSV export, re-derivation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import SerialFormatDep, SessionDep
from app.api.schemas import AttemptIdPath
from app.domain import routing
from app.domain.actors import Role
from app.domain.errors import DomainError
from app.domain.results import ComponentKind
from app.persistence import repositories as repo
from app.security.access import allow
from app.services import rederive, traceability
from app.ui.birth import birth_record_csv, limit_basis, plots_of, residual_bands
from app.ui.search import search
from app.ui.templating import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)])
def search_page(request: Request, session: SessionDep, serial_format: SerialFormatDep, q: str = "") -> Response:
    """Search by serial, component serial or lot, furnace run, cylinder lot, work order."""
    term = q.strip()[:64]
    if not term:
        return render(request, "search.html", result=None)
    result = search(session=session, term=term, serial_format=serial_format)
    if result.serial and not result.components and not result.work_order:
        return RedirectResponse(f"/ui/units/{result.serial}", status_code=303)
    return render(request, "search.html", result=result)


@router.get(
    "/units/{serial}",
    response_class=HTMLResponse,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def birth_record_page(request: Request, serial: str, session: SessionDep, serial_format: SerialFormatDep) -> Response:
    """The unit's birth record: every attempt, measurements against limits, plots, components, holds."""
    try:
        record = traceability.birth_record(session=session, serial_format=serial_format, serial=serial)
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)
    plots = {rec.attempt.id: plots_of(session, rec) for rec in record.attempts}
    bands = {rec.attempt.id: [b.as_json() for b in residual_bands(rec)] for rec in record.attempts}
    _unit, route = repo.unit_state(session, record.unit.serial)
    return render(
        request,
        "birth_record.html",
        record=record,
        plots=plots,
        bands=bands,
        limit_basis=limit_basis,
        overridable=_overridable(record),
        route_steps=[step.station_type for step in route.steps],
        lot_scope=lot_scope,
    )


def lot_scope(scope_ref: str | None) -> tuple[str | None, str]:
    """(component kind or None, identifier) of a lot hold's scope reference, "kind:identifier" or the
    identifier alone (an identifier may hold a colon itself)."""
    kind, _, identifier = (scope_ref or "").partition(":")
    if kind in set(ComponentKind):
        return kind, identifier
    return None, scope_ref or ""


def _overridable(record: traceability.BirthRecord) -> int | None:
    """The attempt whose verdict a quality engineer may override: the unit's latest judged result (the
    service refuses any earlier one), none on a scrapped unit."""
    if record.unit.status == routing.UnitStatus.SCRAPPED:
        return None
    latest = next((rec.attempt for rec in reversed(record.attempts) if rec.attempt.status != "aborted"), None)
    return latest.id if latest is not None and latest.verdict is not None else None


@router.get(
    "/units/{serial}/birth-record.csv", dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)]
)
def birth_record_export(serial: str, session: SessionDep, serial_format: SerialFormatDep) -> Response:
    """The birth record as CSV (measurements, checks with limits and U, components)."""
    record = traceability.birth_record(session=session, serial_format=serial_format, serial=serial)
    return Response(
        birth_record_csv(record),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{record.unit.serial}-birth-record.csv"'},
    )


@router.get(
    "/attempts/{attempt_id}/rederivation",
    response_class=HTMLResponse,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def rederivation_page(request: Request, attempt_id: AttemptIdPath, session: SessionDep) -> Response:
    """A recorded verdict judged again from its stored result, check by check (writes nothing)."""
    try:
        outcome = rederive.rederive_attempt(
            session=session, expectations=request.app.state.judge.expectations, attempt_id=attempt_id
        )
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)
    return render(request, "rederivation.html", rederivation=outcome)
