"""A simulated line: a gateway server hosting the line's stations, units of a work order flowing at a takt time.

Each unit walks its route; at each station the PLC asks for a release, runs the cycle (time-scaled),
publishes the result and holds the unit until the MES acknowledges it, then routes it by the verdict.
Ground truth per serial and every outcome are kept so a run can be scored against the MES.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from app.opcua.master_data import StationEndpoint
from app.opcua.simulator.faults import Fault, UnitTruth, assign_faults
from app.opcua.simulator.physics import generate
from app.opcua.simulator.plc import STATE_EXECUTING, STATE_NOT_EXECUTING, ResultSet, SimulatedPlc
from app.opcua.simulator.products import product_facts
from app.opcua.simulator.server import HostedStation, ServerSecurity, StationServer
from app.opcua.station_types import StationTypeLookup, default_lookup

logger = logging.getLogger(__name__)

MONOBLOC_ROUTE = (
    "coil_expansion",
    "brazing",
    "sub_base_assembly",
    "vacuum_dehydration",
    "charging",
    "leak_test",
    "run_in",
)
VERDICT_NAMES = {1: "PASS", 2: "FAIL", 3: "RETEST"}
MAX_ATTEMPTS_PER_STATION = 4


@dataclass(frozen=True, slots=True)
class LineConfig:
    """What to simulate. ``time_scale``: plant seconds per real second (a 30-min vacuum in seconds)."""

    line_id: str = "LINE-1"
    model_code: str = "HPM-06-R290-EVI"
    work_order: str = "WO-DEMO-R290"
    serial_prefix: str = "HP26-"
    first_serial_number: int = 1
    units: int = 50
    takt_s: float = 120.0
    time_scale: float = 600.0
    fault_rate: float = 0.10
    fault_kinds: tuple[Fault, ...] = tuple(Fault)
    seed: int = 1
    host: str = "127.0.0.1"
    port: int = 4840
    station_id_prefix: str = ""
    answer_timeout_s: float = 10.0
    security: ServerSecurity = field(default_factory=ServerSecurity)

    @property
    def route(self) -> tuple[str, ...]:
        charged = product_facts(self.model_code).charged_on_line
        return MONOBLOC_ROUTE if charged else tuple(s for s in MONOBLOC_ROUTE if s != "charging")

    @property
    def serials(self) -> tuple[str, ...]:
        first = self.first_serial_number
        return tuple(f"{self.serial_prefix}{i:07d}" for i in range(first, first + self.units))

    @property
    def endpoint_url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/ashp-line/{self.line_id}"


@dataclass(frozen=True, slots=True)
class UnitOutcome:
    """Where a unit ended: ``passed`` the whole route, ``failed`` or was ``refused`` at a station type."""

    serial: str
    result: str
    station_type: str | None
    detail: str = ""


def station_id_for(station_type: str, prefix: str = "") -> str:
    """The demo master data's station ids: ``CEX-01``, ``BRZ-01``…"""
    code = {
        "coil_expansion": "CEX",
        "brazing": "BRZ",
        "sub_base_assembly": "SBA",
        "vacuum_dehydration": "VAC",
        "charging": "CHG",
        "leak_test": "LKT",
        "run_in": "RUN",
    }[station_type]
    return f"{prefix}{code}-01"


class SimulatedLine:
    """The PLC servers and unit flow of one line."""

    def __init__(self, config: LineConfig, *, station_types: StationTypeLookup | None = None) -> None:
        self.config = config
        lookup = station_types or default_lookup()
        self.specs = {st: lookup(st) for st in config.route}
        product = product_facts(config.model_code)
        self.truth: dict[str, UnitTruth] = assign_faults(
            serials=config.serials,
            model_code=config.model_code,
            fault_rate=config.fault_rate,
            evi=product.evi,
            charged=product.charged_on_line,
            seed=config.seed,
            kinds=config.fault_kinds,
        )
        self.station_ids = {st: station_id_for(st, config.station_id_prefix) for st in config.route}
        self.server = StationServer(
            endpoint_url=config.endpoint_url,
            stations=[HostedStation(self.station_ids[st], self.specs[st]) for st in config.route],
            security=config.security,
            name=f"{config.line_id} gateway (simulated)",
        )
        self.plcs = {
            st: SimulatedPlc(
                server=self.server,
                station_id=self.station_ids[st],
                spec=self.specs[st],
                answer_timeout_s=config.answer_timeout_s,
            )
            for st in config.route
        }
        self._locks = {st: asyncio.Lock() for st in config.route}
        self.outcomes: dict[str, UnitOutcome] = {}
        self.results_published: Counter[str] = Counter()
        self.verdicts: list[tuple[str, str, str]] = []  # (serial, station type, verdict)
        self._rng = random.Random(config.seed)
        self._dropped: set[str] = set()

    def master_data(self) -> list[StationEndpoint]:
        """The station master data the MES needs for this line."""
        return [StationEndpoint(self.station_ids[st], st, self.config.endpoint_url) for st in self.config.route]

    async def start(self) -> None:
        """Start the gateway (the PLCs power up)."""
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def run(self) -> dict[str, UnitOutcome]:
        """Feed every unit of the work order at the takt time and wait until each has left the line."""
        tasks = []
        for serial in self.config.serials:
            tasks.append(asyncio.create_task(self._unit(serial)))
            await asyncio.sleep(self.config.takt_s / self.config.time_scale)
        await asyncio.gather(*tasks)
        return self.outcomes

    async def _unit(self, serial: str) -> None:
        for station_type in self.config.route:
            async with self._locks[station_type]:
                outcome = await self._at_station(serial, station_type)
            if outcome is not None:
                self.outcomes[serial] = outcome
                return
        self.outcomes[serial] = UnitOutcome(serial, "passed", None)

    async def _at_station(self, serial: str, station_type: str) -> UnitOutcome | None:
        plc = self.plcs[station_type]
        unit = self.truth[serial]
        for _attempt in range(MAX_ATTEMPTS_PER_STATION):
            answer = await plc.request_release(serial)
            while not answer.answered:  # "MES not answering": hold the unit and ask again
                answer = await plc.request_release(serial)
            if not answer.release:
                return UnitOutcome(serial, "refused", station_type, answer.reason)
            await plc.set_state(STATE_EXECUTING)
            output = generate(station_type=station_type, unit=unit, rng=random.Random(self._rng.random()))
            await self._run_cycle(plc, output.cycle_s, output.live)
            result = ResultSet(
                result_id=plc.new_result_id(),
                serial=serial,
                values=output.values,
                traces={ch: (t, v) for ch, (t, v) in output.traces.items()},
            )
            await plc.publish_result(result)
            self.results_published[station_type] += 1
            if Fault.PLC_DROPS_OFF in unit.faults and serial not in self._dropped:
                self._dropped.add(serial)
                await self._drop_off(station_type)
            verdict = await plc.wait_for_ack()
            await plc.set_state(STATE_NOT_EXECUTING)
            name = VERDICT_NAMES.get(verdict or 0, str(verdict))
            self.verdicts.append((serial, station_type, name))
            if name == "PASS":
                return None
            if name == "FAIL":
                return UnitOutcome(serial, "failed", station_type)
        return UnitOutcome(serial, "refused", station_type, "too many retests")

    async def _run_cycle(self, plc: SimulatedPlc, cycle_s: float, live: dict[str, list[float]]) -> None:
        real_s = max(cycle_s / self.config.time_scale, 0.05)
        steps = max(1, max((len(v) for v in live.values()), default=1))
        for i in range(steps):
            for channel, samples in live.items():
                if samples:
                    await plc.set_live(channel, samples[min(i, len(samples) - 1)])
            await asyncio.sleep(real_s / steps)

    async def _drop_off(self, station_type: str) -> None:
        """The gateway drops off mid-cycle (power cycle): back with new BootIds, unacked results re-offered."""
        await self.server.stop()
        await asyncio.sleep(1.0)
        await self.server.start()
        for plc in self.plcs.values():
            await plc.after_restart()


def score(*, truth: dict[str, UnitTruth], outcomes: dict[str, UnitOutcome]) -> dict[str, int]:
    """Confusion matrix of the MES against the ground truth (a fault 'caught' = failed at its station)."""
    matrix = Counter(
        {"fault_caught": 0, "fault_missed": 0, "fault_caught_elsewhere": 0, "good_passed": 0, "good_failed": 0}
    )
    for serial, unit in truth.items():
        outcome = outcomes.get(serial)
        expected = unit.expected_failing_station
        stopped = outcome is not None and outcome.result in ("failed", "refused")
        if expected is None:
            matrix["good_failed" if stopped else "good_passed"] += 1
        elif stopped and outcome is not None and outcome.station_type == expected:
            matrix["fault_caught"] += 1
        elif stopped:
            matrix["fault_caught_elsewhere"] += 1
        else:
            matrix["fault_missed"] += 1
    return dict(matrix)
