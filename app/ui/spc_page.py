"""The SPC page: an individuals / moving-range chart of one value per unit, or an X̄ / s chart of each
unit's readings (every hairpin, every fastener); Nelson rules; Cp/Cpk and Pp/Ppk against the spec limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.api.deps import SessionDep
from app.domain.actors import Role
from app.persistence import models as m
from app.security.access import allow
from app.ui import spc
from app.ui.pages import LastUnits, PageRoute
from app.ui.spc_data import Characteristic, Sample, characteristics, sample
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
    """SPC chart of the chosen characteristic for one product model, last ``n`` units (25 to 500),
    each unit's latest judged value (or readings), all judged under one specification revision (by
    default the newest with results; ``revision`` picks another, empty for the newest)."""
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
    report = _report(chosen, data) if data is not None else None
    chart = _chart(chosen, data, report) if data is not None and report is not None else None
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
        subgrouped=isinstance(report, spc.SubgroupReport),
        point_serials=chart["serials"] if chart else [],
        nelson=NELSON,
    )


def _report(chosen: Characteristic, data: Sample) -> spc.SpcReport | spc.SubgroupReport | None:
    """Each unit's readings as one subgroup (X̄ / s) when the characteristic is judged reading by reading,
    else one value per unit (I-MR); None below two units."""
    if chosen.reading_channel is not None:
        if len(data.subgroups) < 2:
            return None
        return spc.analyse_subgroups([g.readings for g in data.subgroups], low=data.low, high=data.high)
    return spc.analyse(data.values, low=data.low, high=data.high) if len(data.values) >= 2 else None


def _chart(chosen: Characteristic, data: Sample, report: spc.SpcReport | spc.SubgroupReport) -> dict[str, Any]:
    """What spc.js draws: the location chart's points with their limits, the dispersion chart's."""
    common = {
        "values": report.points,
        "low": data.low,
        "high": data.high,
        "flagged": sorted({i for idx in report.violations.values() for i in idx}),
        "dispersion_flagged": report.dispersion_flagged,
        "title": f"{chosen.label}, judged under spec revision {data.revision_id}",
        "y_title": chosen.axis_title,
        "x_title": "unit, in production order",
    }
    if isinstance(report, spc.SubgroupReport):
        limits = report.limits
        return common | {
            "kind": "xbar_s",
            "serials": [g.serial for g in data.subgroups],
            "sizes": [len(g) for g in report.subgroups],
            "mean": limits.mean,
            "ucl": limits.ucl,
            "lcl": limits.lcl,
            "s": report.sds,
            "s_centre": limits.s_centre,
            "s_ucl": limits.s_ucl,
            "s_lcl": limits.s_lcl,
        }
    serials = [g.serial for g in data.subgroups] if data.subgroups else data.serials
    return common | {
        "kind": "individuals",
        "serials": serials,
        "mean": report.limits.mean,
        "ucl": report.limits.ucl,
        "lcl": report.limits.lcl,
        "mr": report.moving_ranges,
        "mr_mean": report.limits.mr_mean,
        "mr_ucl": report.limits.mr_ucl,
    }
