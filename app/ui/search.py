"""What a workbench search term names: a unit, a consumed component or lot, or a work order."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.services.traceability import same_identifier


@dataclass(frozen=True, slots=True)
class SearchResult:
    term: str
    serial: str | None = None
    components: list[tuple[str, int]] = field(default_factory=list)  # (kind, units)
    work_order: str | None = None
    work_order_units: list[tuple[str, str, str | None]] = field(default_factory=list)  # serial, status, next step
    work_order_total: int = 0  # units of the work order, of which the first ``limit`` are listed


def as_serial(term: str, serial_format: SerialFormat | None) -> str:
    """The term in the serial format's case: "hp26-0000010" names HP26-0000010 when the format is upper-case."""
    if serial_format is None or serial_format.regex.fullmatch(term):
        return term
    for variant in (term.upper(), term.lower()):
        if serial_format.regex.fullmatch(variant):
            return variant
    return term


def search(*, session: Session, term: str, limit: int = 200, serial_format: SerialFormat | None = None) -> SearchResult:
    """Look the term up as a serial and a component identifier (serial, lot, furnace run, cylinder lot),
    each typed in either case, and as a work order number, each by its index."""
    term = term.strip()
    serial = session.execute(
        select(m.Unit.serial).where(m.Unit.serial == as_serial(term, serial_format))
    ).scalar_one_or_none()
    components = [
        (kind, count)
        for kind, count in session.execute(
            select(m.ComponentUse.kind, func.count(func.distinct(m.ComponentUse.unit_id)))
            .where(same_identifier(term))
            .group_by(m.ComponentUse.kind)
        ).all()
    ]
    order_id = session.execute(select(m.WorkOrder.id).where(m.WorkOrder.number == term)).scalar_one_or_none()
    units: list[tuple[str, str, str | None]] = []
    total = 0
    if order_id is not None:
        total = session.execute(select(func.count()).where(m.Unit.work_order_id == order_id)).scalar_one()
        units = [
            (s, st, nxt)
            for s, st, nxt in session.execute(
                select(m.Unit.serial, m.Unit.status, m.Unit.next_step)
                .where(m.Unit.work_order_id == order_id)
                .order_by(m.Unit.id)
                .limit(limit)
            ).all()
        ]
    return SearchResult(
        term=term,
        serial=serial,
        components=components,
        work_order=term if order_id is not None else None,
        work_order_units=units,
        work_order_total=total,
    )
