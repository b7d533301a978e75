"""The line dashboard: started/finished per hour, first-pass yield, Pareto, station states."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import stations
from app.api.deps import SessionDep
from app.domain.actors import Role
from app.security.access import allow
from app.services.clock import utcnow
from app.ui.line_stats import line_figures
from app.ui.pages import Hours, PageRoute, Until
from app.ui.templating import render

router = APIRouter(route_class=PageRoute)

# A station's State node (plc-interface.md: the OPC 40001-1 machine states), as the dashboard says it
MACHINE_STATES = {0: "not available", 1: "out of service", 2: "idle", 3: "executing"}


def machine_state_words(state: int | None) -> str | None:
    """The machine state in words; a value outside the contract says so with the number the PLC wrote."""
    if state is None:
        return None
    return MACHINE_STATES.get(state, f"unknown state {state} (not in the contract)")


def supervisor_status(request: Request) -> dict[str, dict[str, object]]:
    """The OPC UA supervisor's view of each station (link, how often it dropped lately, machine state), when
    one is running."""
    supervisor = getattr(request.app.state, "supervisor", None)
    board = getattr(supervisor, "board", None)
    if board is None:
        return {}
    return {
        s.station_id: {
            "link": s.link,
            "since": s.since,
            "problem": s.problem,
            "summary": s.link_summary,
            "unstable": s.link_unstable,
            "state": s.state,
            "state_words": machine_state_words(s.state),
            "request_pending": s.request_pending,
        }
        for s in board.all()
    }


@router.get(
    "/dashboard", response_class=HTMLResponse, dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)]
)
def dashboard_view(request: Request, session: SessionDep, hours: Hours = 24, until: Until = None) -> HTMLResponse:
    """Figures for the ``hours`` before ``until`` (default: now), 1 to 168 hours."""
    hours = max(1, min(168, hours))
    end = until if until is not None and until.tzinfo is not None else utcnow()
    figures = line_figures(session=session, since=end - timedelta(hours=hours), until=end)
    return render(
        request,
        "dashboard.html",
        figures=figures,
        hours=hours,
        live=supervisor_status(request),
        type_titles={t.code: t.title for t in stations.all_station_types()},
        supervised=getattr(request.app.state, "supervisor", None) is not None,
        chart={
            "hours": figures.hours,
            "started": figures.started,
            "finished": figures.finished,
            "stations": [s.station_id for s in figures.stations if s.yield_pct is not None],
            "fpy": [round(s.yield_pct, 2) for s in figures.stations if s.yield_pct is not None],
            "pareto_names": [name for name, _ in figures.pareto],
            "pareto_counts": [count for _, count in figures.pareto],
        },
    )
