"""Line figures for the dashboard over a time window: throughput per hour, first-pass yield per
station, the Pareto of failing checks, and what the database knows about each station.

Every query is bounded by the window through ix_attempt_station_started or ix_attempt_completed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from app.persistence import models as m

FIRST_STEP = "coil_expansion"
LAST_STEP = "run_in"


@dataclass(frozen=True, slots=True)
class StationFigures:
    station_id: str
    station_type: str
    first_attempts: int
    first_pass: int
    last_started: datetime | None
    open_serial: str | None

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.first_pass / self.first_attempts if self.first_attempts else None


@dataclass(frozen=True, slots=True)
class LineFigures:
    since: datetime
    until: datetime
    hours: list[str]
    started: list[int]
    finished: list[int]
    stations: list[StationFigures]
    pareto: list[tuple[str, int]]


def _hour_buckets(since: datetime, until: datetime) -> list[datetime]:
    start = since.replace(minute=0, second=0, microsecond=0)
    buckets = []
    while start < until:
        buckets.append(start)
        start += timedelta(hours=1)
    return buckets


def _per_hour(instants: list[datetime], buckets: list[datetime]) -> list[int]:
    counts = Counter(t.replace(minute=0, second=0, microsecond=0) for t in instants)
    return [counts.get(b, 0) for b in buckets]


def line_figures(*, session: Session, since: datetime, until: datetime, pareto_top: int = 15) -> LineFigures:
    """The dashboard's figures for attempts started (or completed) in [since, until)."""
    a = m.OperationAttempt
    stations = session.execute(
        select(m.Station.station_id, m.Station.station_type).order_by(m.Station.station_id)
    ).all()
    ids = [sid for sid, _ in stations]
    first_ids = [sid for sid, st in stations if st == FIRST_STEP]
    in_window = and_(a.station_id.in_(ids), a.started_at >= since, a.started_at < until)
    started = list(
        session.execute(
            select(a.started_at).where(a.station_id.in_(first_ids), a.started_at >= since, a.started_at < until)
        ).scalars()
    )
    finished = list(
        session.execute(
            select(a.completed_at).where(
                a.completed_at >= since, a.completed_at < until, a.station_type == LAST_STEP, a.status == "passed"
            )
        ).scalars()
    )
    earlier = aliased(m.OperationAttempt)
    is_first = ~exists().where(earlier.unit_id == a.unit_id, earlier.station_type == a.station_type, earlier.id < a.id)
    first_rows = session.execute(
        select(a.station_id, func.count(), func.sum(case((a.status == "passed", 1), else_=0)))
        .where(in_window, a.status != "open", is_first)
        .group_by(a.station_id)
    ).all()
    firsts = {sid: (int(n), int(p or 0)) for sid, n, p in first_rows}
    # one index probe per station: a grouped max would scan every attempt of the line
    last_started = {
        sid: session.execute(select(func.max(a.started_at)).where(a.station_id == sid)).scalar_one_or_none()
        for sid in ids
    }
    open_rows = session.execute(
        select(a.station_id, m.Unit.serial).join(m.Unit, m.Unit.id == a.unit_id).where(a.status == "open", in_window)
    ).all()
    open_at = {sid: serial for sid, serial in open_rows}
    c = m.CheckResultRow
    pareto = session.execute(
        select(c.name, func.count())
        .join(a, a.id == c.attempt_id)
        .where(in_window, c.verdict != "PASS")
        .group_by(c.name)
        .order_by(func.count().desc(), c.name)
        .limit(pareto_top)
    ).all()
    buckets = _hour_buckets(since, until)
    return LineFigures(
        since=since,
        until=until,
        hours=[b.strftime("%m-%d %H:00") for b in buckets],
        started=_per_hour(started, buckets),
        finished=_per_hour([t for t in finished if t is not None], buckets),
        stations=[
            StationFigures(
                station_id=sid,
                station_type=st,
                first_attempts=firsts.get(sid, (0, 0))[0],
                first_pass=firsts.get(sid, (0, 0))[1],
                last_started=last_started.get(sid),
                open_serial=open_at.get(sid),
            )
            for sid, st in stations
        ],
        pareto=[(name, int(count)) for name, count in pareto],
    )
