"""Nameplate of a finished unit: a printable page and a ZPL file, from the nameplate service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SerialFormatDep, SessionDep
from app.domain.actors import Role
from app.domain.errors import DomainError
from app.security.access import allow
from app.services import rejudge
from app.ui.labels import barcode_svg, label_lines, zpl
from app.ui.templating import render

router = APIRouter()


@router.get(
    "/units/{serial}/nameplate",
    response_class=HTMLResponse,
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def nameplate_view(request: Request, serial: str, session: SessionDep, serial_format: SerialFormatDep) -> Response:
    """The label as a printable page, with the serial as a barcode."""
    try:
        plate = rejudge.nameplate(session=session, serial_format=serial_format, serial=serial)
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)
    return render(
        request,
        "nameplate.html",
        serial=serial,
        plate=plate,
        lines=label_lines(serial=serial, plate=plate),
        barcode=barcode_svg(serial),
    )


@router.get("/units/{serial}/nameplate.zpl", dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)])
def nameplate_zpl(serial: str, session: SessionDep, serial_format: SerialFormatDep) -> Response:
    """The label as ZPL II for an industrial label printer."""
    plate = rejudge.nameplate(session=session, serial_format=serial_format, serial=serial)
    return Response(
        zpl(serial=serial, plate=plate),
        media_type="application/zpl",
        headers={"Content-Disposition": f'attachment; filename="{serial}-nameplate.zpl"'},
    )
