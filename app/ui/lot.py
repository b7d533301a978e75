"""Reverse genealogy for the page: counts over every unit of a lot, rows for the first of them.

The API's genealogy returns every consumption (5,000 rows for a cylinder lot); a page needs the
counts by status and a first screenful, both read through ix_component_identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.persistence import models as m
from app.services.traceability import GenealogyEntry


@dataclass(frozen=True, slots=True)
class LotView:
    total: int
    statuses: dict[str, int]
    entries: list[GenealogyEntry]


def lot_view(*, session: Session, identifier: str, kind: str | None, limit: int) -> LotView:
    """Units that consumed ``identifier``: how many, in which status, and the first ``limit`` rows."""
    c, u = m.ComponentUse, m.Unit
    conditions = [c.identifier == identifier]
    if kind is not None:
        conditions.append(c.kind == kind)
    statuses = {
        status: int(count)
        for status, count in session.execute(
            select(u.status, func.count(func.distinct(u.id)))
            .select_from(c)
            .join(u, u.id == c.unit_id)
            .where(*conditions)
            .group_by(u.status)
        ).all()
    }
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
        .where(*conditions)
        .order_by(c.unit_id, c.id)
        .limit(limit)
    ).all()
    return LotView(
        total=sum(statuses.values()),
        statuses=statuses,
        entries=[GenealogyEntry._make(row) for row in rows],  # the columns in GenealogyEntry's order
    )
