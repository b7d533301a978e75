"""What-if judging of stored results against another specification revision, and nameplate data.

A re-judge never rewrites a recorded verdict: it reads stored results, judges them again in
memory, and reports the differences.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import rules
from app.domain.errors import Conflict, InvalidInput
from app.domain.expectations import CycleExpectations
from app.domain.results import Component, ComponentKind, Measurement, StationResult, Trace, trace_status_key
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence import trace_codec
from app.rules import ValueStatus
from app.services import specs
from app.services.judging import judge_serially

MAX_ATTEMPTS = 2_000
INFINITE_TEXTS = ("inf", "-inf")  # how a number's infinite reading is stored (operations._measurement_row)


@dataclass(frozen=True, slots=True)
class RejudgedAttempt:
    attempt_id: int
    serial: str
    station_id: str
    started_at: datetime
    recorded_verdict: str
    recorded_spec_revision_id: int | None
    what_if_verdict: str
    changed_checks: list[str]


@dataclass(frozen=True, slots=True)
class RejudgeReport:
    spec_revision_id: int
    station_type: str
    product_model: str
    judged: int
    changed: int
    truncated: bool
    attempts: list[RejudgedAttempt]


def stored_results(session: Session, attempt_ids: list[int]) -> dict[int, tuple[StationResult, dict[str, ValueStatus]]]:
    """Rebuild the station results of stored attempts (values, traces, consumed components), each with
    the statuses its values and traces were read with (only those not Good), keyed as the judge takes them."""
    status: dict[int, dict[str, ValueStatus]] = defaultdict(dict)
    measurements: dict[int, list[Measurement]] = defaultdict(list)
    for row in session.scalars(select(m.Measurement).where(m.Measurement.attempt_id.in_(attempt_ids))):
        if row.quality in ("uncertain", "bad"):
            status[row.attempt_id][row.name] = row.quality  # type: ignore[assignment]
        value: object
        if row.kind == "bool":
            value = None if row.value is None else row.value != 0.0
        elif row.kind == "datetime":
            value = None if row.text is None else datetime.fromisoformat(row.text)
        elif row.kind == "string":
            value = row.text
        elif row.value is None and row.text in INFINITE_TEXTS:
            value = float(row.text)  # an infinite reading, kept as text
        else:
            value = row.value
        measurements[row.attempt_id].append(Measurement(row.name, value, row.unit))  # type: ignore[arg-type]
    traces: dict[int, list[Trace]] = defaultdict(list)
    for t in session.scalars(select(m.TraceRow).where(m.TraceRow.attempt_id.in_(attempt_ids))):
        if t.quality in ("uncertain", "bad"):
            status[t.attempt_id][trace_status_key(t.channel)] = t.quality  # type: ignore[assignment]
        traces[t.attempt_id].append(
            Trace(
                t.channel,
                tuple(trace_codec.decode(t.t_blob, t.encoding)),
                tuple(trace_codec.decode(t.value_blob, t.encoding)),
            )
        )
    components: dict[int, list[Component]] = defaultdict(list)
    for c in session.scalars(select(m.ComponentUse).where(m.ComponentUse.attempt_id.in_(attempt_ids))):
        components[c.attempt_id].append(Component(ComponentKind(c.kind), c.identifier, c.model))
    return {
        a: (StationResult(tuple(measurements[a]), tuple(traces[a]), tuple(components[a])), status[a])
        for a in attempt_ids
    }


SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def narrowed(
    session: Session,
    query: SelectT,
    *,
    serial_format: SerialFormat,
    serial: str | None,
    work_order: str | None,
    instant: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    since: datetime | None,
    until: datetime | None,
) -> SelectT:
    """A query over attempts joined to their units, narrowed to a serial, a work order and a time
    range of ``instant`` (each optional)."""
    if serial is not None:
        query = query.where(m.Unit.serial == serial_format.validate(serial))
    if work_order is not None:
        order_id = session.scalars(select(m.WorkOrder.id).where(m.WorkOrder.number == work_order)).first()
        if order_id is None:
            raise InvalidInput(f"work order {work_order} does not exist")
        query = query.where(m.Unit.work_order_id == order_id)
    if since is not None:
        query = query.where(instant >= since)
    if until is not None:
        query = query.where(instant < until)
    return query


def rejudge(
    *,
    session: Session,
    serial_format: SerialFormat,
    expectations: CycleExpectations | None,
    spec_revision_id: int,
    serial: str | None = None,
    work_order: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RejudgeReport:
    """Judge the stored results of one station type and product model again with another revision."""
    if serial is None and work_order is None and since is None and until is None:
        raise InvalidInput("say which units to re-judge: a serial, a work order or a time range")
    revision = specs.get_revision(session=session, revision_id=spec_revision_id)
    spec = specs.spec_of_revision(revision, session)
    bind = getattr(expectations, "bind", None)
    if bind is not None:  # the database's cycle model: the product model's current parameter set
        expectations = bind(session, product_model_code=spec.product_model_code)
    a = m.OperationAttempt
    query = (
        select(a, m.Unit.serial)
        .join(m.Unit, m.Unit.id == a.unit_id)
        .where(
            a.station_type == revision.station_type,
            m.Unit.product_model_id == revision.product_model_id,
            a.verdict.is_not(None),
        )
    )
    query = narrowed(
        session,
        query,
        serial_format=serial_format,
        serial=serial,
        work_order=work_order,
        instant=a.started_at,
        since=since,
        until=until,
    )
    rows = session.execute(query.order_by(a.id).limit(MAX_ATTEMPTS + 1)).all()
    truncated = len(rows) > MAX_ATTEMPTS
    rows = rows[:MAX_ATTEMPTS]
    results = stored_results(session, [attempt.id for attempt, _ in rows])
    recorded_checks: dict[int, dict[str, str]] = defaultdict(dict)
    for check in session.scalars(
        select(m.CheckResultRow).where(m.CheckResultRow.attempt_id.in_([attempt.id for attempt, _ in rows]))
    ):
        recorded_checks[check.attempt_id][check.name] = check.verdict
    report = []
    for attempt, unit_serial in rows:
        judgement = judge_serially(
            station_type=revision.station_type,
            spec=spec,
            result=results[attempt.id][0],
            expectations=expectations,
            retest_count=attempt.retest_index,
            now=attempt.completed_at or attempt.started_at,
            value_status=results[attempt.id][1],
        )
        changed = [
            f"{c.name}: {recorded_checks[attempt.id].get(c.name, 'not judged')} → {c.verdict.value} ({c.message})"
            for c in judgement.checks
            if recorded_checks[attempt.id].get(c.name) != c.verdict.value and not c.rule.startswith("alarm:")
        ]
        report.append(
            RejudgedAttempt(
                attempt_id=attempt.id,
                serial=unit_serial,
                station_id=attempt.station_id,
                started_at=attempt.started_at,
                recorded_verdict=attempt.verdict or "",
                recorded_spec_revision_id=attempt.spec_revision_id,
                what_if_verdict=judgement.verdict.value,
                changed_checks=changed,
            )
        )
    model = session.get(m.ProductModel, revision.product_model_id)
    assert model is not None
    return RejudgeReport(
        spec_revision_id=revision.id,
        station_type=revision.station_type,
        product_model=model.code,
        judged=len(report),
        changed=sum(1 for r in report if r.recorded_verdict != r.what_if_verdict),
        truncated=truncated,
        attempts=report,
    )


def nameplate(*, session: Session, serial_format: SerialFormat, serial: str) -> rules.Nameplate:
    """The unit's nameplate data: its model's figures and, once judged, its charge and CO2e."""
    serial_format.validate(serial)
    unit, _route = repo.unit_state(session, serial)
    model = session.get(m.ProductModel, unit.product_model_id)
    assert model is not None
    product = specs.product_data(session, model)
    if product.nominal_charge_g is None:
        return rules.nameplate_data(product=product, charged_mass_g=None)
    a = m.OperationAttempt
    mass = session.execute(
        select(m.Measurement.value)
        .join(a, a.id == m.Measurement.attempt_id)
        .where(
            a.unit_id == unit.id,
            a.station_type == "charging",
            a.verdict == "PASS",
            m.Measurement.name == "ChargedMass_g",
        )
        .order_by(a.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if mass is None:
        raise Conflict(f"{serial} has no passed charge yet; its nameplate cannot show the charge and CO2e")
    return rules.nameplate_data(product=product, charged_mass_g=mass)
