"""Reverse genealogy for the page: counts over every unit of a lot, rows for the first of its units.

The API's genealogy returns every consumption (5,000 rows for a cylinder lot); a page needs the
counts by status and a first screenful, both read through ix_component_identifier_lower. The page
is cut by units, as it counts them: a unit with two rows (re-brazed in the same furnace run) is
shown whole or not at all, and never pushes another unit off the table unsaid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # the verdict that counts (the latest override's, else the engine's) of the operation that consumed it,
    # by attempt: which units of a suspect furnace run or lot failed there
    verdicts: dict[int, str] = field(default_factory=dict)


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
        verdicts=_verdicts(session, [row.attempt_id for row in rows if row.attempt_id is not None]),
    )


def _verdicts(session: Session, attempt_ids: list[int]) -> dict[int, str]:
    """Each attempt's verdict that counts (an override over the engine's), or its status while it has none."""
    a, vo = m.OperationAttempt, m.VerdictOverride
    found: dict[int, str] = {}
    for start in range(0, len(attempt_ids), 500):
        chunk = attempt_ids[start : start + 500]
        found |= {
            i: verdict or status
            for i, verdict, status in session.execute(select(a.id, a.verdict, a.status).where(a.id.in_(chunk)))
        }
        for attempt_id, verdict in session.execute(
            select(vo.attempt_id, vo.verdict).where(vo.attempt_id.in_(chunk)).order_by(vo.id)
        ):
            found[attempt_id] = verdict  # the latest override counts
    return found
