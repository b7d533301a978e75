"""Re-deriving recorded verdicts: does each verdict follow from what was stored?

For a judged attempt, the stored result (values with the statuses they were read with, traces,
scanned parts) is judged again with what the verdict recorded: its specification revision, its
cycle-model parameter set version, its retest count and its judging instant (the attempt's
``completed_at``). The outcome is compared check by check with the recorded checks. Nothing is
written. A verdict that does not re-derive means the stored record no longer supports it (an edited
row, a lost value) or the code judges differently now; the differences say which.

Two checks are facts of the delivery, not of the rules: ``release`` (a PLC result without a release)
is carried over from the record; a scanned text too long for the genealogy is checked again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.cyclemodel.paramsets import parse_model_version
from app.domain.errors import InvalidInput, NotFound
from app.domain.expectations import CycleExpectations
from app.domain.results import CheckResult, Verdict, finite_or_none
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.rules import RULES_VERSION
from app.services import specs
from app.services.judging import DatabaseCycleModel, judge_serially, no_specification_check
from app.services.operations import (
    FITTED_ELSEWHERE_RULE,
    RELEASE_RULE,
    check_of_row,
    over_long_component_checks,
)
from app.services.rejudge import narrowed, stored_results

BATCH = 200
_NUMBERS = ("measured", "expected", "limit_low", "limit_high", "uncertainty")


@dataclass(frozen=True, slots=True)
class CheckComparison:
    """One check as recorded and as re-derived; ``differences`` is empty when they agree."""

    name: str
    recorded_verdict: str | None
    rederived_verdict: str | None
    differences: list[str]
    wording_differs: bool


@dataclass(frozen=True, slots=True)
class Rederivation:
    attempt_id: int
    serial: str
    station_id: str
    station_type: str
    judged_at: datetime
    spec_revision_id: int | None
    recorded_model_version: str | None
    model_version: str | None
    recorded_rules_version: str | None
    rules_version: str
    recorded_verdict: str
    rederived_verdict: str
    reproduced: bool
    differences: list[str]
    notes: list[str]
    checks: list[CheckComparison]


@dataclass(frozen=True, slots=True)
class RederivationSummary:
    judged: int
    reproduced: int
    not_reproduced: list[Rederivation]  # the first ones found, in attempt order (``keep`` of them at most)

    @property
    def not_reproduced_count(self) -> int:
        return self.judged - self.reproduced


def rederive_attempt(*, session: Session, expectations: CycleExpectations | None, attempt_id: int) -> Rederivation:
    """Re-derive one judged attempt's verdict (see the module's docstring)."""
    row = session.execute(_attempts().where(m.OperationAttempt.id == attempt_id)).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} does not exist")
    attempt = row[0]
    if attempt.verdict is None:
        raise InvalidInput(f"attempt {attempt_id} has no verdict ({attempt.status}): there is nothing to re-derive")
    return next(_rederive(session, expectations, [(attempt, row[1], row[2])]))


def rederive_many(
    *,
    session: Session,
    expectations: CycleExpectations | None,
    serial_format: SerialFormat,
    serial: str | None = None,
    work_order: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    everything: bool = False,
    progress: Callable[[int, int], None] | None = None,
    keep: int = 50,
) -> RederivationSummary:
    """Re-derive every judged attempt of a unit, a work order or a time range (or all), in batches;
    ``progress(done, total)`` after each batch. The first ``keep`` verdicts that do not re-derive are
    returned whole, the rest counted: memory stays flat over a plant's whole history."""
    if not everything and serial is None and work_order is None and since is None and until is None:
        raise InvalidInput("say which verdicts to re-derive: a serial, a work order, a time range, or all")
    a = m.OperationAttempt
    query = _attempts().where(a.verdict.is_not(None))
    query = narrowed(
        session,
        query,
        serial_format=serial_format,
        serial=serial,
        work_order=work_order,
        instant=a.completed_at,
        since=since,
        until=until,
    )
    total = session.scalar(select(func.count()).select_from(query.with_only_columns(a.id).subquery())) or 0
    judged = reproduced = 0
    failed: list[Rederivation] = []
    after = 0
    while True:  # keyset pages: no list of every id in memory, and each page is an index range scan
        rows = session.execute(query.where(a.id > after).order_by(a.id).limit(BATCH)).all()
        if not rows:
            break
        after = rows[-1][0].id
        for outcome in _rederive(session, expectations, [(r[0], r[1], r[2]) for r in rows]):
            judged += 1
            if outcome.reproduced:
                reproduced += 1
            elif len(failed) < keep:
                failed.append(outcome)
        session.expunge_all()  # a batch's rows are not needed again: memory stays flat over a long range
        if progress is not None:
            progress(judged, max(total, judged))  # verdicts judged meanwhile join the run
    return RederivationSummary(judged=judged, reproduced=reproduced, not_reproduced=failed)


def _attempts() -> Select[m.OperationAttempt, str, str]:
    return (
        select(m.OperationAttempt, m.Unit.serial, m.ProductModel.code)
        .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
        .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
    )


def _rederive(
    session: Session,
    expectations: CycleExpectations | None,
    rows: list[tuple[m.OperationAttempt, str, str]],
) -> Iterator[Rederivation]:
    ids = [attempt.id for attempt, _, _ in rows]
    results = stored_results(session, ids)
    recorded: dict[int, list[m.CheckResultRow]] = {i: [] for i in ids}
    for check in session.scalars(
        select(m.CheckResultRow).where(m.CheckResultRow.attempt_id.in_(ids)).order_by(*repo.CHECK_ORDER)
    ):
        recorded[check.attempt_id].append(check)
    providers: dict[tuple[str, int | None], tuple[CycleExpectations, str | None]] = {}
    for attempt, serial, model_code in rows:
        result, value_status = results[attempt.id]
        judged_at = attempt.completed_at or attempt.started_at
        notes: list[str] = []
        differences: list[str] = []
        provider, model_version = _expectations_of_record(
            session, expectations, attempt, model_code, providers, notes=notes, differences=differences
        )
        if attempt.spec_revision_id is None:
            checks = [
                no_specification_check(
                    station_type=attempt.station_type, product_model_code=model_code, started_at=attempt.started_at
                )
            ]
            notes.append("the verdict recorded no specification revision: none was in force when it started")
        else:
            judgement = judge_serially(  # a verdict records only approved revisions: frozen, parsed once
                station_type=attempt.station_type,
                spec=specs.approved_spec(session, attempt.spec_revision_id),
                result=result,
                expectations=provider,
                retest_count=attempt.retest_index,
                now=judged_at,
                value_status=value_status,
            )
            checks = list(judgement.checks)
        if attempt.origin == "plc":
            checks += over_long_component_checks(attempt.station_type, result)
        release = next((c for c in recorded[attempt.id] if c.rule == RELEASE_RULE), None)
        if release is not None:
            checks.insert(0, check_of_row(release))
            notes.append("release: the result came without a release; a fact of the delivery, carried over")
        fitted = [check_of_row(c) for c in recorded[attempt.id] if c.rule == FITTED_ELSEWHERE_RULE]
        if fitted:
            checks += fitted
            notes.append("fitted elsewhere: a part was already in another unit when judged; carried over")
        verdict = Verdict.worst([c.verdict for c in checks]).value
        comparisons = _compare(recorded[attempt.id], checks)
        differences += [f"{c.name}: {d}" for c in comparisons for d in c.differences]
        if verdict != attempt.verdict:
            differences.insert(0, f"verdict: recorded {attempt.verdict}, re-derived {verdict}")
        if any(c.wording_differs and not c.differences for c in comparisons):
            notes.append("some messages are worded differently now; their verdicts and numbers agree")
        if differences and attempt.rules_version != RULES_VERSION:
            notes.append(
                f"judged by rules {attempt.rules_version or 'older than rules-2 (not recorded)'}, re-derived by "
                f"{RULES_VERSION}: the judging rules changed since (app/rules/engine.py, RULES_VERSION)"
            )
        yield Rederivation(
            attempt_id=attempt.id,
            serial=serial,
            station_id=attempt.station_id,
            station_type=attempt.station_type,
            judged_at=judged_at,
            spec_revision_id=attempt.spec_revision_id,
            recorded_model_version=attempt.model_version,
            model_version=model_version,
            recorded_rules_version=attempt.rules_version,
            rules_version=RULES_VERSION,
            recorded_verdict=attempt.verdict or "",
            rederived_verdict=verdict,
            reproduced=not differences,
            differences=differences,
            notes=notes,
            checks=comparisons,
        )


def _expectations_of_record(
    session: Session,
    expectations: CycleExpectations | None,
    attempt: m.OperationAttempt,
    model_code: str,
    providers: dict[tuple[str, int | None], tuple[CycleExpectations, str | None]],
    *,
    notes: list[str],
    differences: list[str],
) -> tuple[CycleExpectations | None, str | None]:
    """The cycle model as the verdict recorded it: the same stored parameter set version (``providers``
    keeps the ones built for earlier attempts)."""
    if expectations is None:
        return None, None
    recorded = parse_model_version(attempt.model_version)
    version = recorded.version if recorded is not None else None
    if (model_code, version) not in providers:
        provider, problem = expectations, None
        if isinstance(expectations, DatabaseCycleModel):
            try:
                provider = expectations.bind_version(session, product_model_code=model_code, version=version)
            except ValueError as exc:  # the stored numbers no longer give the stored id: edited
                problem = f"cycle-model parameter set version {version} of {model_code}: {exc}"
                provider = expectations.bind_version(session, product_model_code=model_code, version=None)
        providers[(model_code, version)] = (provider, problem)
    provider, problem = providers[(model_code, version)]
    if problem is not None:
        differences.append(problem)
    used = provider.model_version(model_code)
    now = parse_model_version(used)
    if recorded is not None and now is not None:
        if recorded.parameter_set_id != now.parameter_set_id:
            differences.append(
                f"cycle-model parameter set: recorded {recorded.parameter_set_id}, the stored version holds "
                f"{now.parameter_set_id}"
            )
        if recorded.code_version != now.code_version:
            notes.append(
                f"the cycle-model code is {now.code_version} now; the verdict was given by {recorded.code_version}"
            )
    return provider, used


def _compare(recorded: list[m.CheckResultRow], rederived: list[CheckResult]) -> list[CheckComparison]:
    by_name = {c.name: c for c in rederived}
    out = []
    for row in recorded:
        now = by_name.pop(row.name, None)
        if now is None:
            out.append(
                CheckComparison(row.name, row.verdict, None, ["recorded, not given by the re-derivation"], False)
            )
            continue
        differences = []
        if now.verdict.value != row.verdict:
            differences.append(f"recorded {row.verdict}, re-derived {now.verdict.value} ({now.message})")
        if now.rule != row.rule:
            differences.append(f"rule: recorded {row.rule}, re-derived {now.rule}")
        for field in _NUMBERS:
            was, is_ = getattr(row, field), finite_or_none(getattr(now, field))
            if not _same(was, is_):
                differences.append(f"{field.replace('_', ' ')}: recorded {was}, re-derived {is_}")
        out.append(CheckComparison(row.name, row.verdict, now.verdict.value, differences, now.message != row.message))
    for name, now in by_name.items():
        out.append(
            CheckComparison(name, None, now.verdict.value, [f"not recorded; re-derived {now.verdict.value}"], False)
        )
    return out


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
