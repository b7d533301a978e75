"""Units of a work order run the whole route through handshakes only; nothing is lost or duplicated."""

from __future__ import annotations

from collections import Counter

from app.domain.results import Verdict
from app.opcua.backend import PlcResult
from app.opcua.master_data import SecuritySettings
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig, SimulatedLine, score
from app.opcua.supervisor import OpcuaSupervisor
from tests.opcua.conftest import FAST, free_port, run
from tests.opcua.memory_backend import MemoryBackend


def _judge(station_id: str, result: PlcResult) -> Verdict:
    if station_id == "CHG-01":
        mass = result.values["ChargedMass_g"].value
        return Verdict.PASS if isinstance(mass, float) and 138.0 <= mass <= 142.0 else Verdict.FAIL
    return Verdict.PASS


def test_units_flow_through_the_whole_route_and_every_result_is_stored_exactly_once():
    async def scenario():
        config = LineConfig(
            units=6,
            takt_s=60.0,
            time_scale=20_000.0,
            fault_rate=0.34,
            fault_kinds=(Fault.UNDERCHARGE, Fault.PLC_DROPS_OFF),
            port=free_port(),
            seed=3,
        )
        line = SimulatedLine(config)
        backend = MemoryBackend(
            route=tuple(s.station_id for s in line.master_data()), serials=set(config.serials), judge=_judge
        )
        await line.start()
        supervisor = OpcuaSupervisor(
            stations=line.master_data(), backend=backend, security=SecuritySettings(allow_none=True), timing=FAST
        )
        await supervisor.start()
        try:
            outcomes = await line.run()
        finally:
            await supervisor.stop()
            await line.stop()
        faults = Counter(f for unit in line.truth.values() for f in unit.faults)
        assert faults == {Fault.UNDERCHARGE: 1, Fault.PLC_DROPS_OFF: 1}
        stored_per_station = Counter(station_id for station_id, _ in backend.stored)
        published = {line.plcs[st].station_id: n for st, n in line.results_published.items()}
        assert stored_per_station == published  # nothing lost, nothing stored twice
        assert score(truth=line.truth, outcomes=outcomes) == {
            "fault_caught": 1,
            "fault_missed": 0,
            "fault_caught_elsewhere": 0,
            "good_passed": 5,
            "good_failed": 0,
        }
        assert sum(o.result == "passed" for o in outcomes.values()) == 5

    run(scenario)
