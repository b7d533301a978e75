"""End to end: the MES (database, rules engine, cycle model, OPC UA supervisor) runs a simulated
line over real asyncua servers on loopback. Units move through handshakes only; every injected
fault must be caught at its station, no good unit may fail, and no result may be lost or doubled.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.config import SerialSettings
from app.services.judging import DatabaseCycleModel
from app.services.rederive import rederive_many
from tests.conftest import DbUnderTest
from tests.integration.line_run import run_line


def test_a_line_with_injected_faults_is_judged_right_and_loses_nothing(database: DbUnderTest, tmp_path: Path) -> None:
    units, rate = (50, 0.10) if database.backend == "postgres" else (14, 0.3)
    run = run_line(database_url=database.url, data_dir=tmp_path, units=units, fault_rate=rate, seed=11, timeout_s=240)
    print(f"\nconfusion matrix over {run.units} units ({run.faulty} with a fault): {run.matrix}")
    assert run.faulty > 0
    assert run.matrix["fault_missed"] == 0 and run.matrix["fault_caught_elsewhere"] == 0, run.matrix
    assert run.matrix["good_failed"] == 0, run.matrix
    assert run.matrix["fault_caught"] == run.faulty
    # counted on both sides: every result a PLC published is stored exactly once
    assert run.stored == run.published, (run.stored, run.published)
    assert run.duplicates == 0
    # an auditor's check: every stored verdict follows from its stored result, judged again with the
    # specification revision, parameter set version and instant it recorded
    engine = create_engine(database.url)
    try:
        with Session(engine) as session:
            summary = rederive_many(
                session=session,
                expectations=DatabaseCycleModel(),
                serial_format=SerialSettings().format(),
                everything=True,
            )
    finally:
        engine.dispose()
    assert summary.judged == sum(run.stored.values())  # every result of the run, all from the PLCs
    assert summary.not_reproduced == [], [(r.attempt_id, r.differences) for r in summary.not_reproduced]
