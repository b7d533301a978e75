"""Reverse genealogy for the page: counts over every unit of a lot, rows for the first of its units.

The API's genealogy returns every consumption (5,000 rows for a cylinder lot); a page needs the
counts by status and a first screenful, both read through ix_component_identifier_lower. The page
is cut by units, as it counts them: a unit with two rows (re-brazed in the same furnace run) is
shown whole or not at all, and never pushes another unit off the table unsaid.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.persistence import models as m
from app.services.traceability import GenealogyEntry, same_identifier


@dataclass(frozen=True, slots=True)
class LotView:
    total: int  # units that consumed the identifier
    statuses: dict[str, int]  # units by status
    entries: list[GenealogyEntry]  # every consumption by the units shown, by unit
    shown: int  # units in ``entries``: the first ``limit`` units, or all of them
    # the identifier as recorded: one spelling, or (recorded in more than one case) the first and last of them
    spellings: tuple[str, ...]


def lot_view(*, session: Session, identifier: str, kind: str | None, limit: int) -> LotView:
    """Units that consumed ``identifier`` (in any case, trimmed): how many, in which status, and the
    rows of the first ``limit`` units."""
    c, u = m.ComponentUse, m.Unit
    conditions = [same_identifier(identifier.strip())]
    if kind is not None:
        conditions.append(c.kind == kind)
    by_status = session.execute(
        # with its counts, each group's first and last spelling: one spelling in all (the rule), or more
        select(u.status, func.count(func.distinct(u.id)), func.min(c.identifier), func.max(c.identifier))
        .select_from(c)
        .join(u, u.id == c.unit_id)
        .where(*conditions)
        .group_by(u.status)
    ).all()
    statuses = {status: int(count) for status, count, _first, _last in by_status}
    spellings = tuple(sorted({s for _status, _count, *first_last in by_status for s in first_last}))
    first_units = select(c.unit_id).where(*conditions).distinct().order_by(c.unit_id).limit(limit).subquery()
    rows = session.execute(
        select(
            u.serial,
            u.status,
            m.ProductModel.code,
            m.WorkOrder.number,
            c.kind,
            c.identifier,
            c.model,
            c.station_id,
            c.attempt_id,
            c.consumed_at,
            c.removed_at,
            c.removed_by_attempt_id,
        )
        .select_from(c)
        .join(u, u.id == c.unit_id)
        .join(m.ProductModel, m.ProductModel.id == u.product_model_id)
        .join(m.WorkOrder, m.WorkOrder.id == u.work_order_id)
        .where(*conditions, c.unit_id.in_(select(first_units.c.unit_id)))
        .order_by(c.unit_id, c.id)
    ).all()
    return LotView(
        total=sum(statuses.values()),
        statuses=statuses,
        entries=[GenealogyEntry._make(row) for row in rows],  # the columns in GenealogyEntry's order
        shown=len({row.serial for row in rows}),
        spellings=spellings,
    )
