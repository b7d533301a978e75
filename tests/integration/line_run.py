"""One run of a simulated line against the whole MES (database, rules, cycle model, OPC UA), scored
against the simulator's ground truth and counted on both sides. Used by the end-to-end test (50
units) and by `make bench` (500 units)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import create_engine, text, update

from app.config import OpcuaSettings, Settings
from app.main import create_app
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig, SimulatedLine, score
from app.persistence.models import Station


@dataclass(frozen=True)
class LineRun:
    units: int
    faulty: int
    matrix: dict[str, int]
    published: Counter[str]
    stored: Counter[str]
    duplicates: int
    seconds: float


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
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("MES did not start")
        time.sleep(0.05)
    return server, thread


def run_line(
    *, database_url: str, data_dir: Path, units: int, fault_rate: float, seed: int, timeout_s: float
) -> LineRun:
    """Demo data must be loaded; the units are the demo work order's first ``units`` serials."""
    config = LineConfig(
        port=_free_port(),
        units=units,
        first_serial_number=1,
        fault_rate=fault_rate,
        takt_s=120.0,
        time_scale=20_000.0,
        seed=seed,
        fault_kinds=tuple(Fault),
    )
    line = SimulatedLine(config)
    _point_stations_at(database_url, config.endpoint_url, list(line.station_ids.values()))
    settings = Settings(
        database_url=database_url, data_dir=data_dir, opcua=OpcuaSettings(enabled=True, allow_security_none=True)
    )

    async def go() -> dict[str, object]:
        await line.start()
        server, thread = await asyncio.to_thread(_serve, settings)
        try:
            return dict(await asyncio.wait_for(line.run(), timeout=timeout_s))
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)
            await line.stop()

    started = time.monotonic()
    outcomes = asyncio.run(go())
    seconds = time.monotonic() - started
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = Counter(
            dict(
                conn.execute(
                    text(
                        "SELECT station_type, count(*) FROM operation_attempt "
                        "WHERE verdict IS NOT NULL AND origin = 'plc' GROUP BY station_type"
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
    return LineRun(
        units=units,
        faulty=sum(1 for u in line.truth.values() if u.expected_failing_station),
        matrix=score(truth=line.truth, outcomes=outcomes),  # type: ignore[arg-type]
        published=Counter(line.results_published),
        stored=stored,
        duplicates=duplicates,
        seconds=seconds,
    )
