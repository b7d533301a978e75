"""50 units with every fault kind injected once, through OPC UA, judged by the real rules engine and cycle model."""

from __future__ import annotations

from collections import Counter

from app.opcua.master_data import SecuritySettings
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig, SimulatedLine, score
from app.opcua.supervisor import OpcuaSupervisor
from tests.opcua.conftest import FAST, free_port, run
from tests.opcua.rules_backend import HPM_06, RulesBackend

EXPECTED_CHECK = {
    "gross_leak": "rise_test",
    "moisture": "rise_test",
    "fine_leak": "leak_rate",
    "undercharge": "charged_mass",
    "overcharge": "charged_mass",
    "charge_over_cap": "charged_mass",
    "wrong_compressor": "compressor_bom",
    "dew_point_excursion": "dew_point",
    "evi_stuck_closed": "evi_capacity_gain",
    "defrost_timeout": "defrost_end",
    "air_sensor_drift": "P07_air_sensor_drift",
}


def test_every_injected_fault_is_caught_by_its_check_and_no_good_unit_fails():
    async def scenario():
        config = LineConfig(units=50, takt_s=60.0, time_scale=40_000.0, fault_rate=0.24, seed=11, port=free_port())
        line = SimulatedLine(config)
        backend = RulesBackend(
            product=HPM_06,
            route=tuple((line.station_ids[st], st) for st in config.route),
            serials=set(config.serials),
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
        matrix = score(truth=line.truth, outcomes=outcomes)
        print("confusion matrix:", matrix)
        faulty = [u for u in line.truth.values() if u.faults]
        assert {f for u in faulty for f in u.faults} == set(Fault)  # every kind once
        assert matrix["good_failed"] == 0 and matrix["fault_missed"] == 0 and matrix["fault_caught_elsewhere"] == 0
        for unit in faulty:
            (fault,) = unit.faults
            if fault.value in EXPECTED_CHECK:
                assert EXPECTED_CHECK[fault.value] in backend.failures[unit.serial][1], (fault, backend.failures)
        # nothing lost, nothing stored twice: one stored result per published result, per station
        stored = Counter(station_id for station_id, _ in backend.stored)
        assert stored == {line.station_ids[st]: n for st, n in line.results_published.items()}

    run(scenario, timeout_s=120.0)
