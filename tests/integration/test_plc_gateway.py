"""The database behind the OPC UA adapter: measurement units follow the station's type, which the
backend remembers per station instead of reading it for every result."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.results import CheckResult, Judgement, Verdict
from app.domain.serials import SerialFormat
from app.opcua.backend import PlcResult, PlcValue
from app.persistence import migrate
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.rules import COMPONENT_TEXT_MAX
from app.services.judging import EngineJudge
from app.services.plc_gateway import DatabaseStationBackend, long_id_key
from tests.conftest import DbUnderTest


def _result(result_id: str, serial: str, name: str, value: float) -> PlcResult:
    return PlcResult(result_id=result_id, serial=serial, values={name: PlcValue(value, "good")}, traces={})


def _backend_and_two_units(
    database: DbUnderTest, settings: Settings
) -> tuple[Engine, Callable[[], Session], DatabaseStationBackend, list[str]]:
    """The OPC UA adapter's database backend (engine judge, no cycle model) and two demo serials."""
    engine = make_engine(database.url)
    factory = make_session_factory(engine)
    with factory() as session:
        serials = list(session.scalars(select(m.Unit.serial).order_by(m.Unit.id).limit(2)).all())
    backend = DatabaseStationBackend(
        session_factory=factory, serial_format=settings.serial.format(), judge=EngineJudge(lambda: None)
    )
    return engine, factory, backend, serials


def test_a_station_retyped_in_the_master_data_gets_the_new_types_units(
    database: DbUnderTest, settings: Settings
) -> None:
    engine, factory, backend, (first_serial, second_serial) = _backend_and_two_units(database, settings)
    try:
        stored = backend._result("CEX-01", _result("B1-1", first_serial, "LengthLoss_mm", 1.2))
        assert not stored.duplicate
        owner = create_engine(database.owner)
        with owner.begin() as conn:  # behind the MES's back: the station now is a leak tester
            conn.execute(text("UPDATE station SET station_type = 'leak_test' WHERE station_id = 'CEX-01'"))
        owner.dispose()
        stored = backend._result("CEX-01", _result("B1-2", second_serial, "TestPressure_bar", 21.0))
        assert not stored.duplicate
        again = backend._result("CEX-01", _result("B1-2", second_serial, "TestPressure_bar", 21.0))
        assert again.duplicate and again.verdict == stored.verdict
        with factory() as session:
            units = dict(session.execute(select(m.Measurement.name, m.Measurement.unit)).all())
            attempts = session.execute(
                select(m.OperationAttempt.result_key, m.OperationAttempt.station_type).where(
                    m.OperationAttempt.station_id == "CEX-01", m.OperationAttempt.result_key.is_not(None)
                )
            ).all()
        assert units == {"LengthLoss_mm": "mm", "TestPressure_bar": "bar"}
        assert sorted(attempts) == [("B1-1", "coil_expansion"), ("B1-2", "leak_test")]  # each stored once
    finally:
        engine.dispose()


class _JudgingWatch:
    """How many judgings ran, and the most that ran at one moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = self.peak = self.calls = 0


def _watch_judging(monkeypatch: pytest.MonkeyPatch) -> _JudgingWatch:
    """Count the rules engine's judgings, each held 0.3 s: long enough for another thread to arrive."""
    from app.services import judging

    real_judge = judging.rules.judge
    watch = _JudgingWatch()

    def watched(**kwargs):  # type: ignore[no-untyped-def]
        with watch.lock:
            watch.inside, watch.calls = watch.inside + 1, watch.calls + 1
            watch.peak = max(watch.peak, watch.inside)
        try:
            time.sleep(0.3)
            return real_judge(**kwargs)
        finally:
            with watch.lock:
                watch.inside -= 1

    monkeypatch.setattr(judging.rules, "judge", watched)
    return watch


def test_results_of_two_stations_stored_at_once_are_judged_one_at_a_time(
    database: DbUnderTest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database threads store results side by side, but the rules engine (CoolProp and FITPACK state
    inside) runs under the judge's lock: never two judgings at the same moment."""
    watch = _watch_judging(monkeypatch)
    engine, _factory, backend, (first, second) = _backend_and_two_units(database, settings)
    jobs = [("CEX-01", _result("C-1", first, "LengthLoss_mm", 1.2)), ("BRZ-01", _result("B-1", second, "O2_ppm", 5.0))]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            stored = list(pool.map(lambda job: backend._result(*job), jobs))
    finally:
        engine.dispose()
    assert [s.duplicate for s in stored] == [False, False]
    assert watch.calls == 2 and watch.peak == 1


def test_a_re_derivation_and_a_plc_result_at_the_same_moment_are_judged_one_at_a_time(
    database: DbUnderTest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-derivation (an HTTP request's thread) judges with the same shared cycle model as the OPC UA
    adapter's database thread: it takes the same lock (it judged beside it)."""
    from app.services.rederive import rederive_attempt

    engine, factory, backend, (first, second) = _backend_and_two_units(database, settings)
    try:
        backend._result("CEX-01", _result("C-1", first, "LengthLoss_mm", 1.2))
        with factory() as session:
            earlier = session.scalars(select(m.OperationAttempt.id).where(m.OperationAttempt.result_key == "C-1")).one()
        watch = _watch_judging(monkeypatch)

        def rederive() -> bool:
            with factory() as session:
                return rederive_attempt(session=session, expectations=None, attempt_id=earlier).reproduced

        with ThreadPoolExecutor(max_workers=2) as pool:
            stored = pool.submit(backend._result, "BRZ-01", _result("B-1", second, "O2_ppm", 5.0))
            reproduced = pool.submit(rederive)
            assert not stored.result().duplicate and reproduced.result()
    finally:
        engine.dispose()
    assert watch.calls == 2 and watch.peak == 1


def test_a_plcs_identifier_longer_than_the_genealogy_holds_is_kept_whole_in_a_fail_check(
    database: DbUnderTest, settings: Settings
) -> None:
    """Not cut short into the genealogy (where a search would miss the unit), and the result is not lost."""
    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    batch = "CB-" + "7" * 62  # 65 characters; component_use.identifier holds 64
    try:
        result = PlcResult(result_id="B3-1", serial=serial, values={"CoilBatch": PlcValue(batch, "good")}, traces={})
        stored = backend._result("CEX-01", result)
        assert stored.verdict.value == "FAIL" and not stored.duplicate
        with factory() as session:
            assert session.scalars(select(m.ComponentUse.identifier)).all() == []
            checks = dict(session.execute(select(m.CheckResultRow.name, m.CheckResultRow.message)).all())
            text_of = dict(session.execute(select(m.Measurement.name, m.Measurement.text)).all())
        assert checks["genealogy:CoilBatch"] == (
            f"CoilBatch names a coil_batch in 65 characters; the genealogy holds at most 64; "
            f"not recorded as a component: {batch}"
        )
        assert text_of["CoilBatch"] == batch  # the measurement itself (255 characters) keeps it whole
    finally:
        engine.dispose()


def test_a_plcs_string_longer_than_any_rest_bound_is_stored_whole(database: DbUnderTest, settings: Settings) -> None:
    """The contract sets no length on a string value; what the PLC sent is what is stored (migration 0009:
    before it, PostgreSQL cut this to 255 characters through the completion's bound-array cast)."""
    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    instrument = "HLD-" + "0123456789" * 100  # 1,004 characters
    try:
        result = PlcResult(
            result_id="L7-1", serial=serial, values={"InstrumentId": PlcValue(instrument, "good")}, traces={}
        )
        stored = backend._result("LKT-01", result)
        assert stored.verdict.value == "FAIL"  # not released at the leak test (and incomplete), yet stored
        with factory() as session:
            stored_text = session.scalar(select(m.Measurement.text).where(m.Measurement.name == "InstrumentId"))
        assert stored_text == instrument
        if database.backend == "postgres":  # going back to VARCHAR(255) would cut it: refused, nothing changed
            with factory() as session:
                head = session.scalar(text("SELECT version_num FROM alembic_version"))
            with pytest.raises(RuntimeError, match="1004 characters"):
                migrate.downgrade(database.owner, "0008")
            with factory() as session:
                assert session.scalar(select(m.Measurement.text).where(m.Measurement.name == "InstrumentId")) == (
                    instrument
                )
                assert session.scalar(text("SELECT version_num FROM alembic_version")) == head
    finally:
        engine.dispose()


def test_a_recipe_longer_than_a_plc_holds_refuses_the_release_and_opens_no_attempt(
    database: DbUnderTest, settings: Settings
) -> None:
    """``<model code>/<spec revision>`` must fit Response.Recipe (64 bytes); cut short it would name
    another model or revision in the station's recipe store, so the unit is refused with the reason."""
    engine, factory, backend, (serial, control) = _backend_and_two_units(database, settings)
    try:
        released = backend._request("CEX-01", control)
        assert released.release and released.recipe.count("/") == 1, released
        long_code = "HPM-" + "9" * 60  # 64 characters: a valid model code, but the recipe adds '/<revision>'
        owner = create_engine(database.owner)
        with owner.begin() as conn:
            conn.execute(
                text(
                    "UPDATE product_model SET code = :code"
                    " WHERE id = (SELECT product_model_id FROM unit WHERE serial = :s)"
                ),
                {"code": long_code, "s": serial},
            )
        owner.dispose()
        refused = backend._request("CEX-01", serial)
        assert not refused.release and refused.recipe == ""
        assert refused.reason.startswith(f"recipe {long_code}/") and "longer than the 64 bytes" in refused.reason
        with factory() as session:
            opened = session.scalars(
                select(m.OperationAttempt.station_id)
                .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
                .where(m.Unit.serial.in_([serial, control]))
            ).all()
        assert opened == ["CEX-01"]  # the control's; the refused start was rolled back
    finally:
        engine.dispose()


def test_a_trace_read_with_bad_status_is_judged_not_valid(database: DbUnderTest, settings: Settings) -> None:
    """The gateway hands a trace's status to the judge with the values' (``PlcResult.statuses``); the
    channel is recorded without samples, so a re-judge of the stored result says the same."""
    from app.services.rejudge import rejudge

    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    try:
        result = PlcResult(  # as the adapter reads a Bad trace: the channel, no samples, its status
            result_id="V1-1",
            serial=serial,
            values={},
            traces={"Pressure_Pa": ((), ())},
            trace_status={"Pressure_Pa": "bad"},
        )
        assert backend._result("VAC-01", result).verdict.value == "FAIL"
        with factory() as session:
            checks = dict(session.execute(select(m.CheckResultRow.name, m.CheckResultRow.message)).all())
            row = session.execute(select(m.TraceRow.channel, m.TraceRow.n_samples, m.TraceRow.quality)).one()
            report = rejudge(
                session=session,
                serial_format=settings.serial.format(),
                expectations=None,
                spec_revision_id=session.scalar(select(m.OperationAttempt.spec_revision_id)),
                serial=serial,
            )
        assert checks["rise_test"].endswith("trace Pressure_Pa not valid (Bad status)")
        assert tuple(row) == ("Pressure_Pa", 0, "bad")
        (again,) = report.attempts
        assert again.what_if_verdict == "FAIL"
        assert not any("rise_test" in change for change in again.changed_checks)  # judged alike
    finally:
        engine.dispose()


def test_a_result_id_longer_than_the_contracts_64_is_stored_and_recognised_when_read_again(
    database: DbUnderTest, settings: Settings
) -> None:
    """Before migration 0011 PostgreSQL refused it ("value too long"): never committed, never
    acknowledged, the station stood still re-offering it."""
    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    key = "BOOT-" + "7" * 95  # 100 characters
    result = PlcResult(result_id=key, serial=serial, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
    try:
        assert backend._request("CEX-01", serial).release
        first, again = backend._result("CEX-01", result), backend._result("CEX-01", result)
        assert not first.duplicate and again.duplicate and again.verdict == first.verdict
        with factory() as session:
            assert session.scalars(select(m.OperationAttempt.result_key)).all() == [key]
        if database.backend == "postgres":  # VARCHAR(64) again would not hold it: refused, nothing changed
            with factory() as session:
                head = session.scalar(text("SELECT version_num FROM alembic_version"))
            with pytest.raises(RuntimeError, match="a key of 100 characters"):
                migrate.downgrade(database.owner, "0010")
            with factory() as session:
                assert session.scalar(text("SELECT version_num FROM alembic_version")) == head
                assert session.scalars(select(m.OperationAttempt.result_key)).all() == [key]
    finally:
        engine.dispose()


def test_a_result_id_too_long_to_index_is_keyed_by_its_digest_and_recognised_when_read_again(
    database: DbUnderTest, settings: Settings
) -> None:
    """PostgreSQL's unique (station, key) index refuses an entry over about 2.7 kB: such a result was
    never committed nor acknowledged, and the station stood still re-offering it."""
    engine, factory, backend, (serial, other) = _backend_and_two_units(database, settings)
    sent = "BOOT-" + secrets.token_hex(4000)  # 8 kB that do not compress
    result = PlcResult(result_id=sent, serial=serial, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
    orphan = dataclasses.replace(result, result_id=sent + "-2", serial="HP97-0000001")  # names no unit
    try:
        assert backend._request("CEX-01", serial).release
        first, again = backend._result("CEX-01", result), backend._result("CEX-01", result)
        assert not first.duplicate and again.duplicate and again.verdict == first.verdict
        assert [backend._result("CEX-01", orphan).duplicate for _ in range(2)] == [False, True]
        assert backend._request("CEX-01", other).release  # the station was not stuck
        with factory() as session:
            (key,) = session.scalars(
                select(m.OperationAttempt.result_key).where(m.OperationAttempt.result_key.is_not(None))
            )
            orphan_key = session.scalars(select(m.OrphanResult.result_key)).one()
            alarms = session.scalars(
                select(m.StationAlarm.message).where(m.StationAlarm.station_id == "CEX-01").order_by(m.StationAlarm.id)
            ).all()
        assert key == long_id_key(sent) and orphan_key == long_id_key(sent + "-2") and key != orphan_key
        assert key.startswith("long-id-sha256-") and len(key) == 55
        told = [a for a in alarms if "(the contract allows 64)" in a]
        assert len(told) == 2 and f"a Result.Id of 8,005 bytes, beginning '{sent[:61]}…'" in told[0]
        assert f"stored as {key}" in told[0]
    finally:
        engine.dispose()


def test_a_result_stored_with_its_unit_is_recognised_after_the_serial_format_changed(
    database: DbUnderTest, settings: Settings
) -> None:
    """Stored without a release, its Ack lost; the plant changes its serial format before the PLC
    offers it again, so its serial is no longer valid: it is the stored result, not an orphan."""
    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    result = _result("B7-1", serial, "LengthLoss_mm", 1.2)
    try:
        first = backend._result("CEX-01", result)  # no release here: stored with its unit, FAIL
        assert first.verdict == Verdict.FAIL and not first.duplicate
        stricter = SerialFormat(pattern=r"SN-(?P<seq>\d{9})", description="SN- and nine digits")
        after = DatabaseStationBackend(session_factory=factory, serial_format=stricter, judge=EngineJudge(lambda: None))
        again = after._result("CEX-01", result)
        assert again.verdict == Verdict.FAIL and again.duplicate
        with factory() as session:
            assert session.scalars(select(m.OrphanResult)).all() == []
            assert session.scalars(select(m.OperationAttempt.result_key)).all() == ["B7-1"]
    finally:
        engine.dispose()


def test_results_without_a_result_id_are_told_apart_by_their_content(database: DbUnderTest, settings: Settings) -> None:
    """An empty or unreadable Result.Id was stored as '' once; the station's next such result broke the
    unique (station, key) and could never be committed. Now each is keyed by a digest of its content:
    two cycles are two results, the same one read again is recognised, and an alarm asks for the id."""
    engine, factory, backend, (first_serial, second_serial) = _backend_and_two_units(database, settings)
    try:
        stored = []
        for serial in (first_serial, second_serial):
            assert backend._request("CEX-01", serial).release
            result = PlcResult(result_id="", serial=serial, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
            stored += [backend._result("CEX-01", result), backend._result("CEX-01", result)]
        assert [s.duplicate for s in stored] == [False, True, False, True]
        with factory() as session:
            keys = session.scalars(select(m.OperationAttempt.result_key).order_by(m.OperationAttempt.id)).all()
            alarms = session.scalars(select(m.StationAlarm.message).where(m.StationAlarm.station_id == "CEX-01")).all()
        assert len(keys) == len(set(keys)) == 2 and all(k.startswith("no-id-sha256-") for k in keys)
        without_id = [a for a in alarms if "came without a Result.Id" in a]
        assert len(without_id) == 2 and f"stored as {keys[0]}" in without_id[0]
    finally:
        engine.dispose()


def test_a_trace_of_unequal_lengths_is_stored_as_it_came_and_fails_naming_both(
    database: DbUnderTest, settings: Settings
) -> None:
    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    try:
        assert backend._request("CEX-01", serial).release
        result = PlcResult(
            result_id="C5-1", serial=serial, values={}, traces={"Force_kN": ((0.0, 0.5), (0.0, 20.0, 36.5))}
        )
        assert backend._result("CEX-01", result).verdict.value == "FAIL"
        with factory() as session:
            (n_samples,) = session.scalars(select(m.TraceRow.n_samples)).all()
            checks = dict(session.execute(select(m.CheckResultRow.name, m.CheckResultRow.message)).all())
        assert n_samples == 3
        assert "trace Force_kN has 3 samples but 2 time stamps" in checks["result_complete"]
    finally:
        engine.dispose()


def test_a_retest_measuring_exactly_the_same_without_a_result_id_is_a_new_result_not_a_second_read(
    database: DbUnderTest, settings: Settings
) -> None:
    """A retest weighs again: a scale may read the same gram, so the whole result set repeats. Keyed by
    content alone it was taken for the first one read again: never stored, the retest left open, asked
    again forever. The key includes the attempt it completes."""
    engine, factory, _, (serial, _) = _backend_and_two_units(database, settings)

    def retest(session: Session, context: object, result: object) -> Judgement:  # the measurement is in U
        return Judgement(verdict=Verdict.RETEST, checks=(CheckResult("mass", Verdict.RETEST, "guard band", "in U"),))

    backend = DatabaseStationBackend(
        session_factory=factory,
        serial_format=settings.serial.format(),
        judge=retest,  # type: ignore[arg-type]
    )
    same = PlcResult(result_id="", serial=serial, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
    try:
        outcomes = []
        for _ in range(2):  # the cycle, then its retest
            assert backend._request("CEX-01", serial).release
            outcomes += [backend._result("CEX-01", same), backend._result("CEX-01", same)]  # each read twice
        assert [(o.verdict, o.duplicate) for o in outcomes] == [
            (Verdict.RETEST, False),
            (Verdict.RETEST, True),
            (Verdict.RETEST, False),
            (Verdict.RETEST, True),
        ]
        with factory() as session:
            rows = session.execute(
                select(m.OperationAttempt.status, m.OperationAttempt.retest_index).order_by(m.OperationAttempt.id)
            ).all()
        assert rows == [("retest", 0), ("retest", 1)]  # two results, nothing left open
    finally:
        engine.dispose()


def test_a_what_if_rejudge_keeps_the_status_each_value_and_trace_was_read_with(
    database: DbUnderTest, settings: Settings
) -> None:
    """An Uncertain reading decided the recorded verdict (coil expansion cannot retest: FAIL); re-judged
    from the stored result, it must decide again, not come back as a Good value that PASSes."""
    from app.services.rejudge import rejudge
    from tests.rules.factories import good_result

    engine, factory, backend, serials = _backend_and_two_units(database, settings)
    good = good_result("coil_expansion")
    values = {x.name: PlcValue(x.value, "good") for x in good.measurements}
    traces = {t.channel: (t.t_s, t.values) for t in good.traces}
    readings = {
        serials[0]: PlcResult("E-1", serials[0], values | {"LengthLoss_mm": PlcValue(2.1, "uncertain")}, traces),
        serials[1]: PlcResult("E-2", serials[1], values, traces, trace_status={"Force_kN": "uncertain"}),
    }
    try:
        for serial, result in readings.items():
            assert backend._request("CEX-01", serial).release
            assert backend._result("CEX-01", result).verdict == Verdict.FAIL  # at best RETEST; the cap is 0
        with factory() as session:
            revision = session.scalar(select(m.OperationAttempt.spec_revision_id))
            stored = {
                (serial, name, quality)
                for table in (m.Measurement, m.TraceRow)
                for serial, name, quality in session.execute(
                    select(m.Unit.serial, table.name if table is m.Measurement else table.channel, table.quality)
                    .join(m.OperationAttempt, m.OperationAttempt.id == table.attempt_id)
                    .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
                    .where(table.quality.is_not(None))
                )
            }
            report = rejudge(
                session=session,
                serial_format=settings.serial.format(),
                expectations=None,
                spec_revision_id=revision,
                since=datetime(2000, 1, 1, tzinfo=UTC),
            )
        assert stored == {(serials[0], "LengthLoss_mm", "uncertain"), (serials[1], "Force_kN", "uncertain")}
        assert {a.serial: a.what_if_verdict for a in report.attempts} == {serials[0]: "FAIL", serials[1]: "FAIL"}
        assert report.changed == 0
    finally:
        engine.dispose()


def test_the_genealogy_bound_is_the_component_columns_length() -> None:
    # app/rules holds the bound without importing the tables; it must not drift from them
    columns = m.ComponentUse.__table__.c
    assert COMPONENT_TEXT_MAX == columns.identifier.type.length == columns.model.type.length


def test_an_infinite_reading_is_kept_as_read_and_its_verdict_re_derives(
    database: DbUnderTest, settings: Settings
) -> None:
    """It was stored as "no value", so the record said "not measured" where the judge had seen +inf
    above the limit: a re-derivation of the verdict disagreed with it."""
    from app.services.rederive import rederive_attempt

    engine, factory, backend, (serial, _) = _backend_and_two_units(database, settings)
    try:
        assert backend._request("CEX-01", serial).release
        stored = backend._result("CEX-01", _result("INF-1", serial, "LengthLoss_mm", float("inf")))
        assert stored.verdict.value == "FAIL"
        with factory() as session:
            row = session.execute(
                select(m.Measurement.value, m.Measurement.text).where(m.Measurement.name == "LengthLoss_mm")
            ).one()
            attempt_id = session.scalars(
                select(m.OperationAttempt.id).where(m.OperationAttempt.result_key == "INF-1")
            ).one()
            again = rederive_attempt(session=session, expectations=None, attempt_id=attempt_id)
        assert tuple(row) == (None, "inf")
        assert again.reproduced, again.differences
        loss = next(c for c in again.checks if c.name == "length_loss")
        assert loss.rederived_verdict == "FAIL"
    finally:
        engine.dispose()


def test_a_refused_request_for_another_unit_commits_the_abort_of_the_unit_that_left_the_station(
    database: DbUnderTest, settings: Settings
) -> None:
    engine, factory, backend, (first, second) = _backend_and_two_units(database, settings)

    def status_at_cex() -> list[tuple[str | None, str | None]]:
        with factory() as session:
            return [
                (status, summary)
                for status, summary in session.execute(
                    select(m.OperationAttempt.status, m.OperationAttempt.summary)
                    .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
                    .where(m.Unit.serial == first, m.OperationAttempt.station_id == "CEX-01")
                    .order_by(m.OperationAttempt.id)
                ).all()
            ]

    try:
        assert backend._request("CEX-01", first).release
        # misread scans name no unit: the unit in the station is still being processed
        assert not backend._request("CEX-01", "HP26-9999990").release
        assert not backend._request("CEX-01", "no serial").release
        assert status_at_cex() == [("open", None)]
        owner = create_engine(database.owner)
        with owner.begin() as conn:
            conn.execute(text("UPDATE unit SET status = 'scrapped' WHERE serial = :s"), {"s": second})
        owner.dispose()

        refused = backend._request("CEX-01", second)
        assert not refused.release and "scrapped" in refused.reason
        assert status_at_cex() == [("aborted", "station moved on without a result")]
        assert backend._request("CEX-01", first).release  # back in the station: a new attempt
        assert [s for s, _ in status_at_cex()] == ["aborted", "open"]
    finally:
        engine.dispose()


def test_a_request_refused_for_want_of_a_specification_still_commits_the_abort_of_the_unit_that_left(
    database: DbUnderTest, settings: Settings
) -> None:
    """The refusals the gateway makes after the interlock (no approved specification, a recipe too
    long) rolled back the abort of the unit that had left the station: it stayed open there and was
    refused everywhere else as "still in process at CEX-01"."""
    from app.domain.actors import SYSTEM
    from app.services import master_data, work_orders

    engine, factory, backend, (first, _) = _backend_and_two_units(database, settings)
    try:
        with factory() as session, session.begin():  # a new model, no specification approved for it yet
            document = master_data.read_document(master_data.DEMO_DOCUMENT)
            model = next(p for p in document.product_models if p.code == "HPM-06-R290-EVI")
            model_in = model.model_copy(update={"code": "HPM-06-R290-NEW"})
            master_data.upsert_product_model(session=session, model_in=model_in, actor=SYSTEM)
            work_orders.create_work_order(
                session=session,
                serial_format=settings.serial.format(),
                number="WO-NEW",
                product_model_code="HPM-06-R290-NEW",
                first_serial="HP26-0770001",
                quantity=1,
                actor=SYSTEM,
            )
        assert backend._request("CEX-01", first).release
        refused = backend._request("CEX-01", "HP26-0770001")
        assert not refused.release and "no approved specification" in refused.reason
        with factory() as session:
            rows = session.execute(
                select(m.Unit.serial, m.OperationAttempt.status, m.OperationAttempt.summary)
                .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
                .where(m.OperationAttempt.station_id == "CEX-01")
                .order_by(m.OperationAttempt.id)
            ).all()
        assert [tuple(r) for r in rows] == [(first, "aborted", "station moved on without a result")]
    finally:
        engine.dispose()
