"""Re-deriving recorded verdicts: the stored result judged again as the verdict recorded it (its
specification revision, cycle-model parameter set version, retest count and judging instant) gives
the recorded verdict and checks, and a stored record changed behind the MES's back is named.
The end-to-end line test re-derives every verdict of its run (tests/integration)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update

from app import cli
from app.cli import main as mes
from app.cyclemodel import CODE_VERSION
from app.cyclemodel.paramsets import load_shipped, parameter_set_id
from app.domain.actors import SYSTEM
from app.persistence.db import make_engine, make_session_factory
from app.persistence.models import CycleParameterSet
from app.rules import RULES_VERSION
from app.services import cycle_parameters, rederive
from tests.api.driver import MONOBLOC, Line
from tests.conftest import DbUnderTest

MODEL = "HPM-06-R290-EVI"


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client, model=MODEL)


def _rederive(client: Any, attempt_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/attempts/{attempt_id}/rederivation")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _behind_the_mes(database: DbUnderTest, statement: str, **params: Any) -> None:
    engine = create_engine(database.owner)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(statement), params).rowcount == 1
    finally:
        engine.dispose()


def test_every_verdict_of_a_unit_re_derives_check_by_check(line: Line, client: Any) -> None:
    serial = line.work_order(quantity=1)[0]
    attempts = [line.run(station_type, serial)["attempt"] for station_type in MONOBLOC]
    for attempt in attempts:
        body = _rederive(client, attempt["id"])
        assert body["reproduced"] is True, body["differences"]
        assert body["rederived_verdict"] == body["recorded_verdict"] == "PASS"
        assert body["model_version"] == body["recorded_model_version"] == attempt["model_version"]
        assert body["rules_version"] == body["recorded_rules_version"] == attempt["rules_version"] == RULES_VERSION
        assert body["spec_revision_id"] == attempt["spec_revision_id"]
        assert len(body["checks"]) >= 2 and all(c["differences"] == [] for c in body["checks"])
    run_in = _rederive(client, attempts[-1]["id"])
    assert {"M10_cop", "P45_superheat_k", "evi_capacity_gain"} <= {c["name"] for c in run_in["checks"]}


def test_retests_and_the_retest_cap_re_derive_as_recorded(line: Line, client: Any) -> None:
    """The same reading at the leak limit: RETEST, RETEST, then FAIL once the cap of two is reached;
    each re-derivation takes its attempt's own retest count."""
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    at_the_limit = {"TracerGas": "R290", "LeakSignal_mbar_l_s": 5.3e-5}
    attempts = [line.run("leak_test", serial, verdict, overrides=at_the_limit)["attempt"]
                for verdict in ("RETEST", "RETEST", "FAIL")]  # fmt: skip
    bodies = [_rederive(client, a["id"]) for a in attempts]
    assert [b["rederived_verdict"] for b in bodies] == ["RETEST", "RETEST", "FAIL"]
    assert all(b["reproduced"] for b in bodies), [b["differences"] for b in bodies]


def test_a_stored_value_changed_behind_the_mes_is_named_by_the_re_derivation(
    line: Line, client: Any, database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    serial = line.work_order(quantity=1)[0]
    line.run("coil_expansion", serial)
    attempt = line.run("brazing", serial)["attempt"]
    assert mes(["verdicts", "rederive", "--serial", serial]) == 0
    captured = capsys.readouterr()
    assert "2 of 2 verdicts re-derived as recorded" in captured.out
    assert "re-derived 2 of 2 verdicts" in captured.err  # progress

    _behind_the_mes(
        database,
        "UPDATE measurement SET value = 80.0 WHERE attempt_id = :a AND name = 'O2_ppm'",
        a=attempt["id"],
    )
    body = _rederive(client, attempt["id"])
    assert body["reproduced"] is False
    assert body["recorded_verdict"] == "PASS" and body["rederived_verdict"] == "FAIL"
    assert body["differences"][0] == "verdict: recorded PASS, re-derived FAIL"
    o2 = next(c for c in body["checks"] if c["differences"])
    assert o2["name"] == "oxygen" and (o2["recorded_verdict"], o2["rederived_verdict"]) == ("PASS", "FAIL")
    assert any(d.startswith("measured: recorded ") and d.endswith("re-derived 80.0") for d in o2["differences"])
    assert not any("judging rules changed" in n for n in body["notes"])  # judged by these rules
    _behind_the_mes(database, "UPDATE operation_attempt SET rules_version = NULL WHERE id = :a", a=attempt["id"])
    older = _rederive(client, attempt["id"])
    assert older["recorded_rules_version"] is None and older["rules_version"] == RULES_VERSION
    assert any(n.startswith("judged by rules older than rules-2 (not recorded)") for n in older["notes"])

    assert mes(["verdicts", "rederive", "--work-order", f"WO-T-{serial}"]) == 1
    out = capsys.readouterr().out
    assert f"NOT REPRODUCED: attempt {attempt['id']} ({serial} at BRZ-01)" in out
    assert "oxygen: recorded PASS, re-derived FAIL" in out and "1 of 2 verdicts re-derived as recorded" in out


def test_a_verdict_recorded_with_u_without_its_unit_re_derives_as_recorded_worded_differently(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    """Before U was written with its unit ("(U 0.5)", now "(U 0.5 g)") messages read otherwise; only words
    changed, so the verdict re-derives as recorded (no RULES_VERSION bump) and the answer says so."""
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    attempt = line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 135.0})["attempt"]
    assert "charged mass 135 g is below 138 g (U 0.5 g)" in attempt["summary"]
    _behind_the_mes(
        database,
        "UPDATE check_result SET message = REPLACE(message, '(U 0.5 g)', '(U 0.5)') "
        "WHERE attempt_id = :a AND name = 'charged_mass'",
        a=attempt["id"],
    )
    body = _rederive(client, attempt["id"])
    assert body["reproduced"] is True, body["differences"]
    assert body["recorded_verdict"] == body["rederived_verdict"] == "FAIL"
    assert "some messages are worded differently now; their verdicts and numbers agree" in body["notes"]


def test_a_verdict_is_re_derived_at_the_instant_it_was_judged(line: Line, client: Any) -> None:
    """The reference-leak check was 8 h old less 2 s when judged: valid then, expired a moment later."""
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    checked_at = datetime.now(UTC) - timedelta(hours=8) + timedelta(seconds=2)
    attempt = line.run("leak_test", serial, overrides={"RefLeakCheckAt": checked_at})["attempt"]
    time.sleep(max(0.0, (checked_at + timedelta(hours=8, seconds=0.5) - datetime.now(UTC)).total_seconds()))
    body = _rederive(client, attempt["id"])
    assert body["reproduced"] is True, body["differences"]
    age = next(c for c in body["checks"] if c["name"] == "reference_leak_age")
    assert age["rederived_verdict"] == "PASS"


def test_a_verdict_is_re_derived_with_the_parameter_set_version_it_recorded(
    line: Line, client: Any, settings: Any
) -> None:
    first, second = line.work_order(quantity=2)
    judged_v1 = [line.run(station_type, first) for station_type in MONOBLOC][-1]["attempt"]
    seed = load_shipped(product_model_code=MODEL)
    assert judged_v1["model_version"] == f"{CODE_VERSION}/{seed.parameter_set_id}#v1"

    # A second version whose water-side UA differs: its expectations differ from version 1's.
    changed = dataclasses.replace(seed.parameters, ua_water_hx_w_k=seed.parameters.ua_water_hx_w_k * 1.15)
    engine = make_engine(settings.resolved_database_url())
    with make_session_factory(engine)() as session, session.begin():
        stored = cycle_parameters.store(
            session=session,
            actor=SYSTEM,
            parameter_set=dataclasses.replace(
                seed,
                parameters=changed,
                parameter_set_id=parameter_set_id(product_model_code=MODEL, parameters=changed),
            ),
            source="test",
            max_rating_error=0.5,
        )
    engine.dispose()
    assert stored.version == 2
    judged_v2 = [line.run(station_type, second) for station_type in MONOBLOC][-1]["attempt"]
    assert judged_v2["model_version"].endswith("#v2")

    for judged in (judged_v1, judged_v2):
        body = _rederive(client, judged["id"])
        assert body["reproduced"] is True, body["differences"]
        assert body["model_version"] == judged["model_version"]


def test_a_parameter_set_edited_behind_the_mes_is_named_by_the_re_derivation(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    serial = line.work_order(quantity=1)[0]
    run_in = [line.run(station_type, serial) for station_type in MONOBLOC][-1]["attempt"]
    seed = load_shipped(product_model_code=MODEL)
    edited = dataclasses.asdict(
        dataclasses.replace(seed.parameters, ua_water_hx_w_k=seed.parameters.ua_water_hx_w_k * 2)
    )
    engine = create_engine(database.owner)
    try:
        with engine.begin() as conn:  # as only the tables' owner could: the append-only triggers off
            if database.backend == "postgres":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                for trigger in ("cycle_parameter_set_no_update", "cycle_parameter_set_no_delete"):
                    conn.execute(text(f"DROP TRIGGER {trigger}"))
            model_id = conn.execute(text("SELECT id FROM product_model WHERE code = :c"), {"c": MODEL}).scalar_one()
            changed = conn.execute(
                update(CycleParameterSet)
                .where(CycleParameterSet.product_model_id == model_id, CycleParameterSet.version == 1)
                .values(parameters=edited)
            )
            assert changed.rowcount == 1
    finally:
        engine.dispose()
    body = _rederive(client, run_in["id"])
    assert body["reproduced"] is False
    assert any(
        d.startswith(
            f"cycle-model parameter set version 1 of {MODEL}: parameter set {seed.parameter_set_id} was edited"
        )
        for d in body["differences"]
    ), body["differences"]


def test_an_attempt_without_a_verdict_or_unknown_is_a_clear_problem(line: Line, client: Any) -> None:
    serial = line.work_order(quantity=1)[0]
    started = line.start("coil_expansion", serial).json()
    r = client.get(f"/api/v1/attempts/{started['attempt']['id']}/rederivation")
    assert r.status_code == 422 and "has no verdict (open): there is nothing to re-derive" in r.json()["detail"]
    r = client.get("/api/v1/attempts/987654321/rederivation")
    assert r.status_code == 404 and r.json()["detail"] == "attempt 987654321 does not exist"


def test_a_long_re_derivation_pages_through_the_attempts_and_keeps_only_the_first_differences(
    line: Line,
    database: DbUnderTest,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """A plant's whole history may fail to re-derive (an upgrade that judges differently): memory
    must not grow with it. Pages of one attempt here; two verdicts differ, the first is shown."""
    serial = line.work_order(quantity=1)[0]
    attempts = [line.run(station_type, serial)["attempt"] for station_type in MONOBLOC[:3]]
    for attempt, name, value in ((attempts[0], "LengthLoss_mm", 9.0), (attempts[1], "O2_ppm", 80.0)):
        _behind_the_mes(database, "UPDATE measurement SET value = :v WHERE attempt_id = :a AND name = :n",
                        v=value, a=attempt["id"], n=name)  # fmt: skip
    monkeypatch.setattr(rederive, "BATCH", 1)
    monkeypatch.setattr(cli, "SHOWN_NOT_REPRODUCED", 1)
    assert mes(["verdicts", "rederive", "--serial", serial]) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("re-derived")] == [
        f"re-derived {n} of 3 verdicts" for n in (1, 2, 3)
    ]
    assert captured.out.count("NOT REPRODUCED: attempt") == 1
    assert f"NOT REPRODUCED: attempt {attempts[0]['id']} " in captured.out
    assert "… and 1 more not reproduced" in captured.out and "1 of 3 verdicts re-derived as recorded" in captured.out
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            summary = rederive.rederive_many(
                session=session, expectations=None, serial_format=settings.serial.format(), serial=serial, keep=1
            )
    finally:
        engine.dispose()
    assert (summary.judged, summary.reproduced, summary.not_reproduced_count) == (3, 1, 2)
    assert [r.attempt_id for r in summary.not_reproduced] == [attempts[0]["id"]]


def test_rise_test_verdicts_re_derive_as_recorded_and_one_judged_by_rules_3_names_the_change(
    line: Line, client: Any, database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """rules-4: a rise test too short to judge records no rise (rules-3 recorded its duration as the
    measured value) and the tight-rise limit with U (rules-3 recorded none on a PASS or a test too short)."""
    tight, short = line.work_order(quantity=2)
    attempts = {}
    for serial, expect, overrides in ((tight, "PASS", {}), (short, "FAIL", {"RiseTestDuration_s": 300.0})):
        for station_type in MONOBLOC[:3]:
            line.run(station_type, serial)
        attempts[serial] = line.run("vacuum_dehydration", serial, expect, overrides=overrides)
    rise = {sn: next(c for c in body["checks"] if c["name"] == "rise_test") for sn, body in attempts.items()}
    assert rise[short]["rule"] == "rise_test:too_short" and rise[short]["measured"] is None
    assert 0 < rise[tight]["measured"] < 30.0
    assert all((c["limit_high"], c["uncertainty"]) == (30.0, 2.0) for c in rise.values())
    for serial in (tight, short):
        assert mes(["verdicts", "rederive", "--serial", serial]) == 0
        assert "4 of 4 verdicts re-derived as recorded" in capsys.readouterr().out

    attempt_id = attempts[short]["attempt"]["id"]  # as rules-3 recorded it
    _behind_the_mes(database, "UPDATE check_result SET measured = 300.0, limit_high = NULL, uncertainty = NULL "
                    "WHERE attempt_id = :a AND name = 'rise_test'", a=attempt_id)  # fmt: skip
    _behind_the_mes(database, "UPDATE operation_attempt SET rules_version = 'rules-3' WHERE id = :a", a=attempt_id)
    body = _rederive(client, attempt_id)
    assert body["reproduced"] is False and body["rederived_verdict"] == body["recorded_verdict"] == "FAIL"
    assert any(d.startswith("rise_test: measured: recorded 300.0") for d in body["differences"]), body["differences"]
    assert f"judged by rules rules-3, re-derived by {RULES_VERSION}" in " ".join(body["notes"])


def test_a_recorded_parameter_set_id_the_stored_version_does_not_hold_is_named(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    """The verdict's model version names version 1 with another set's id (a record edited behind the
    MES): the stored version 1 no longer supports it, and the re-derivation says so."""
    serial = line.work_order(quantity=1)[0]
    run_in = [line.run(station_type, serial) for station_type in MONOBLOC][-1]["attempt"]
    seed = load_shipped(product_model_code=MODEL)
    assert run_in["model_version"] == f"{CODE_VERSION}/{seed.parameter_set_id}#v1"
    _behind_the_mes(database, "UPDATE operation_attempt SET model_version = :v WHERE id = :a",
                    v=f"{CODE_VERSION}/{MODEL}@0000000000#v1", a=run_in["id"])  # fmt: skip
    body = _rederive(client, run_in["id"])
    assert body["reproduced"] is False
    assert body["recorded_model_version"] == f"{CODE_VERSION}/{MODEL}@0000000000#v1"
    assert body["model_version"] == run_in["model_version"]
    assert body["differences"] == [
        f"cycle-model parameter set: recorded {MODEL}@0000000000, the stored version holds {seed.parameter_set_id}"
    ]


def test_each_recorded_number_of_a_check_changed_by_a_ten_thousandth_is_named(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    """measured, expected, both limits and U are the verdict's record: a change to any of them, however
    small, no longer re-derives, and the re-derivation names the field with both numbers."""
    serial = line.work_order(quantity=1)[0]
    run_in = [line.run(station_type, serial) for station_type in MONOBLOC][-1]
    cop = next(c for c in run_in["checks"] if c["name"] == "M10_cop")
    fields = ("measured", "expected", "limit_low", "limit_high", "uncertainty")
    assert all(cop[f] not in (None, 0.0) for f in fields), cop
    _behind_the_mes(database, "UPDATE check_result SET " + ", ".join(f"{f} = {f} * 1.0001" for f in fields)
                    + " WHERE attempt_id = :a AND name = 'M10_cop'", a=run_in["attempt"]["id"])  # fmt: skip
    body = _rederive(client, run_in["attempt"]["id"])
    assert body["reproduced"] is False and body["rederived_verdict"] == body["recorded_verdict"] == "PASS"
    (changed,) = [c for c in body["checks"] if c["differences"]]
    assert changed["name"] == "M10_cop"
    assert [d.split(": recorded ")[0] for d in changed["differences"]] == [f.replace("_", " ") for f in fields]
    for field, difference in zip(fields, changed["differences"], strict=True):
        recorded, rederived = difference.split(": recorded ")[1].split(", re-derived ")
        assert float(rederived) == pytest.approx(cop[field], rel=1e-12)
        assert float(recorded) == pytest.approx(cop[field] * 1.0001, rel=1e-12)


def test_values_and_traces_read_uncertain_re_derive_with_the_status_they_were_read_with(
    client: Any, settings: Any
) -> None:
    """A PLC value and trace read Uncertain were judged as such; the re-derivation takes the stored
    statuses, so it gives the recorded verdict rather than the one good readings would get."""
    from app.opcua.backend import PlcResult, PlcValue
    from app.services.judging import EngineJudge, default_expectations
    from app.services.plc_gateway import DatabaseStationBackend

    serial = Line(client).work_order()[0]
    engine = make_engine(settings.resolved_database_url())
    backend = DatabaseStationBackend(
        session_factory=make_session_factory(engine),
        serial_format=settings.serial.format(),
        judge=EngineJudge(default_expectations),
    )
    good = {"CoilBatch": "CB-1", "PeakForce_kN": 41.0, "LengthLoss_mm": 2.1, "FinPitch_mm": 1.8}
    status = {"LengthLoss_mm": "uncertain"}
    result = PlcResult(
        result_id="Q-UNCERTAIN",
        serial=serial,
        values={name: PlcValue(value, status.get(name, "good")) for name, value in good.items()},
        traces={"Force_kN": ((0.0, 1.0), (0.0, 41.0)), "HairpinPeakForce_kN": ((0.0, 1.0), (40.0, 41.0))},
        trace_status={"Force_kN": "uncertain"},
    )
    try:
        assert backend._request("CEX-01", serial).release
        stored = backend._result("CEX-01", result)
    finally:
        engine.dispose()
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    (attempt,) = [a for a in record["attempts"] if a["station_id"] == "CEX-01"]
    assert attempt["verdict"] == stored.verdict.value == "FAIL"  # coil expansion cannot measure again
    assert sorted(c["name"] for c in attempt["checks"] if "+uncertain_status" in c["rule"]) == [
        "force_curve_recorded",
        "length_loss",
    ]
    body = _rederive(client, attempt["id"])
    assert body["reproduced"] is True, body["differences"]
    assert body["rederived_verdict"] == body["recorded_verdict"] == attempt["verdict"]
