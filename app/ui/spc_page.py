"""The SPC page: individuals / moving-range chart, Nelson rules, Cp/Cpk against the spec limits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.api.deps import SessionDep
from app.domain.actors import Role
from app.persistence import models as m
from app.security.access import allow
from app.ui import spc
from app.ui.pages import LastUnits, PageRoute
from app.ui.spc_data import characteristics, sample
from app.ui.templating import render

router = APIRouter(route_class=PageRoute)
NELSON = {
    1: "a point beyond 3σ",
    2: "nine points on one side of the centre line",
    3: "six points steadily rising or falling",
    4: "fourteen points alternating up and down",
    5: "two of three points beyond 2σ on one side",
    6: "four of five points beyond 1σ on one side",
    7: "fifteen points within 1σ",
    8: "eight points beyond 1σ on both sides",
}


@router.get(
    "/spc", response_class=HTMLResponse, dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)]
)
def spc_view(
    request: Request,
    session: SessionDep,
    characteristic: str = "charging:charged_mass",
    model: str = "",
    n: LastUnits = 100,
    revision: str = "",
) -> HTMLResponse:
    """I-MR chart of the chosen characteristic for one product model, last ``n`` units (25 to 500),
    each unit's latest judged value, all judged under one specification revision (by default the
    newest with results; ``revision`` picks another, empty for the newest)."""
    options = characteristics()
    chosen = next((c for c in options if c.key == characteristic), options[0])
    models = list(session.execute(select(m.ProductModel.code).order_by(m.ProductModel.code)).scalars())
    model = model if model in models else (models[0] if models else "")
    n = max(25, min(500, n))
    wanted = int(revision) if revision.isdecimal() and len(revision) < 19 else None
    data = (
        sample(session=session, characteristic=chosen, product_model=model, limit=n, revision_id=wanted)
        if model
        else None
    )
    report = None
    if data is not None and len(data.values) >= 2:
        report = spc.analyse(data.values, low=data.low, high=data.high)
    chart = None
    if report is not None and data is not None:
        chart = {
            "values": report.values,
            "serials": data.serials,
            "mr": report.moving_ranges,
            "mean": report.limits.mean,
            "ucl": report.limits.ucl,
            "lcl": report.limits.lcl,
            "mr_mean": report.limits.mr_mean,
            "mr_ucl": report.limits.mr_ucl,
            "low": data.low,
            "high": data.high,
            "flagged": sorted({i for idx in report.violations.values() for i in idx}),
            "title": f"{chosen.label}, judged under spec revision {data.revision_id}",
        }
    return render(
        request,
        "spc.html",
        options=options,
        chosen=chosen,
        models=models,
        model=model,
        n=n,
        revision=wanted,
        data=data,
        report=report,
        chart=chart,
        nelson=NELSON,
    )
