"""End to end: the MES (database, rules engine, cycle model, OPC UA supervisor) runs a simulated
line over real asyncua servers on loopback. Units move through handshakes only; every injected
fault must be caught at its station, no good unit may fail, and no result may be lost or doubled.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import uvicorn
from sqlalchemy import create_engine, text, update

from app.config import OpcuaSettings, Settings
from app.main import create_app
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig, SimulatedLine, score
from app.persistence.models import Station
from tests.conftest import DbUnderTest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _point_stations_at(url: str, endpoint: str, station_ids: list[str]) -> None:
    """The line's stations at the simulator's endpoint; every other station without one."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(update(Station).values(opcua_endpoint=None))
        conn.execute(update(Station).where(Station.station_id.in_(station_ids)).values(opcua_endpoint=endpoint))
    engine.dispose()


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "MES did not start"
        time.sleep(0.05)
    return server, thread


def test_a_line_with_injected_faults_is_judged_right_and_loses_nothing(database: DbUnderTest, tmp_path: Path) -> None:
    units = 50 if database.backend == "postgres" else 14
    port = _free_port()
    config = LineConfig(
        port=port,
        units=units,
        first_serial_number=1,
        fault_rate=0.10 if units >= 50 else 0.3,
        takt_s=120.0,
        time_scale=20_000.0,
        seed=11,
        fault_kinds=tuple(f for f in Fault),
    )
    line = SimulatedLine(config)
    _point_stations_at(database.url, config.endpoint_url, list(line.station_ids.values()))
    settings = Settings(
        database_url=database.url,
        data_dir=tmp_path,
        opcua=OpcuaSettings(enabled=True, allow_security_none=True),
    )

    async def run_line() -> dict[str, object]:
        await line.start()
        server, thread = await asyncio.to_thread(_serve, settings)
        try:
            outcomes = await asyncio.wait_for(line.run(), timeout=240)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)
            await line.stop()
        return dict(outcomes)

    outcomes = asyncio.run(run_line())
    matrix = score(truth=line.truth, outcomes=outcomes)  # type: ignore[arg-type]
    faulty = sum(1 for u in line.truth.values() if u.expected_failing_station)
    print(f"\nconfusion matrix over {units} units ({faulty} with a fault): {matrix}")
    assert faulty > 0
    assert matrix["fault_missed"] == 0 and matrix["fault_caught_elsewhere"] == 0, matrix
    assert matrix["good_failed"] == 0, matrix
    assert matrix["fault_caught"] == faulty

    engine = create_engine(database.url)
    with engine.connect() as conn:
        stored = Counter(
            dict(
                conn.execute(
                    text(
                        "SELECT a.station_type, count(*) FROM operation_attempt a JOIN unit u ON u.id = a.unit_id "
                        "WHERE a.verdict IS NOT NULL AND a.origin = 'plc' GROUP BY a.station_type"
                    )
                ).all()
            )
        )
        duplicates = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT station_id, result_key FROM operation_attempt "
                "WHERE result_key IS NOT NULL GROUP BY station_id, result_key HAVING count(*) > 1) d"
            )
        ).scalar_one()
    engine.dispose()
    # counted on both sides: every result a PLC published is stored exactly once
    assert stored == Counter(line.results_published), (stored, line.results_published)
    assert duplicates == 0
