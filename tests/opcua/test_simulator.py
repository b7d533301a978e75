"""The simulated PLC server looks exactly as the contract says and answers Republish correctly."""

from __future__ import annotations

import random

import pytest
from asyncua import Client, ua
from asyncua.ua.uaerrors import BadMessageNotAvailable

from app.cyclemodel.vacuum import expected_tight_rise_pa
from app.opcua.nodes import NAMESPACE_URI
from app.opcua.simulator.faults import Fault, UnitTruth
from app.opcua.simulator.physics import generate
from app.opcua.simulator.products import product_facts
from app.opcua.simulator.server import HostedStation, StationServer
from app.opcua.station_types import default_lookup
from tests.opcua.conftest import endpoint_url, run

EXPECTED_TYPES = {
    "Identification.StationType": ua.VariantType.String,
    "Identification.InterfaceVersion": ua.VariantType.UInt32,
    "Identification.BootId": ua.VariantType.String,
    "State": ua.VariantType.Int32,
    "Request.Serial": ua.VariantType.String,
    "Request.Counter": ua.VariantType.UInt32,
    "Response.Counter": ua.VariantType.UInt32,
    "Response.Release": ua.VariantType.Boolean,
    "Response.Reason": ua.VariantType.String,
    "Response.Recipe": ua.VariantType.String,
    "Result.Id": ua.VariantType.String,
    "Result.Serial": ua.VariantType.String,
    "Result.Counter": ua.VariantType.UInt32,
    "Result.Verdict": ua.VariantType.Int32,
    "Result.Ack": ua.VariantType.UInt32,
    "Result.Values.RefLeakCheckAt": ua.VariantType.DateTime,
    "Result.Values.TracerGas": ua.VariantType.String,
    "Result.Values.LeakSignal_mbar_l_s": ua.VariantType.Double,
    "Live.LeakSignal_mbar_l_s": ua.VariantType.Double,
}


def test_station_address_space_follows_the_contract_and_republish_of_unknown_sequence_is_refused():
    async def scenario():
        url = endpoint_url()
        server = StationServer(endpoint_url=url, stations=[HostedStation("LKT-01", default_lookup()("leak_test"))])
        await server.start()
        client = Client(url)
        try:
            await client.connect()
            ns = await client.get_namespace_index(NAMESPACE_URI)
            for path, variant_type in EXPECTED_TYPES.items():
                dv = await client.get_node(ua.NodeId(f"LKT-01.{path}", ns)).read_data_value()
                assert dv.Value.VariantType == variant_type, path
            station = await client.nodes.objects.get_child(f"{ns}:LKT-01")
            children = {(await c.read_browse_name()).Name for c in await station.get_children()}
            assert {"Identification", "Request", "Response", "Result", "Live", "State"} <= children
            values = await station.get_child([f"{ns}:Result", f"{ns}:Values"])
            assert len(await values.get_children()) == 7
            sub = await client.create_subscription(50, handler=None)
            with pytest.raises(BadMessageNotAvailable):
                await client.uaclient.session.republish(sub.subscription_id, 999)
        finally:
            await client.disconnect()
            await server.stop()

    run(scenario)


def test_each_injected_fault_shows_in_the_values_meant_to_catch_it():
    def out(station_type: str, *faults: Fault):
        unit = UnitTruth("HP26-0000001", "HPM-06-R290-EVI", frozenset(faults), near_limit=False)
        return generate(station_type=station_type, unit=unit, rng=random.Random(7))

    good_vac = out("vacuum_dehydration").traces["Pressure_Pa"][1]
    leak_vac = out("vacuum_dehydration", Fault.GROSS_LEAK).traces["Pressure_Pa"][1]
    wet_vac = out("vacuum_dehydration", Fault.MOISTURE).traces["Pressure_Pa"][1]
    assert good_vac[-1] - good_vac[-600] < 30 < wet_vac[-1] - wet_vac[-600]
    # a leak rises linearly, moisture levels off towards the vapour pressure of water
    assert leak_vac[-1] - leak_vac[-300] > 0.8 * (leak_vac[-300] - leak_vac[-600])
    assert wet_vac[-1] - wet_vac[-300] < 0.2 * (wet_vac[-300] - wet_vac[-600])
    assert out("charging", Fault.UNDERCHARGE).values["ChargedMass_g"] < 138
    assert out("charging", Fault.CHARGE_OVER_CAP).values["ChargedMass_g"] > 150
    assert out("sub_base_assembly", Fault.WRONG_COMPRESSOR).values["CompressorModel"] != "RSC-19-EVI"
    assert out("brazing", Fault.DEW_POINT_EXCURSION).values["DewPoint_C"] > -50
    assert out("leak_test", Fault.FINE_LEAK).values["LeakSignal_mbar_l_s"] > 5.3e-5
    assert out("leak_test").values["LeakSignal_mbar_l_s"] < 5.3e-5


def test_run_in_faults_show_against_the_cycle_model_values():
    def values(*faults: Fault):
        unit = UnitTruth("HP26-0000001", "HPM-06-R290-EVI", frozenset(faults), near_limit=False)
        return generate(station_type="run_in", unit=unit, rng=random.Random(7)).values

    good = values()
    bad = values(Fault.EVI_STUCK_CLOSED, Fault.DEFROST_TIMEOUT, Fault.AIR_SENSOR_DRIFT)
    gain = good["M10_EviOn_Capacity_W"] / good["M10_EviOff_Capacity_W"] - 1
    assert 0.10 < gain < 0.25
    assert abs(bad["M10_EviOn_Capacity_W"] / bad["M10_EviOff_Capacity_W"] - 1) < 0.03
    assert good["Defrost_EndedOn"] == "temperature" and bad["Defrost_EndedOn"] == "timeout"
    assert abs(good["P07_UnitAirSensor_C"] - good["P07_AirTemp_C"]) < 1.0
    assert bad["P07_UnitAirSensor_C"] - bad["P07_AirTemp_C"] > 1.0


@pytest.mark.parametrize("model_code", ["HPM-06-R290-EVI", "HPM-12-R32-EVI", "HPS-10-R32"])
def test_a_simulated_tight_unit_rises_as_the_cycle_model_expects_a_tight_dry_circuit_of_its_volume(model_code: str):
    """The simulator's tight units are the physics' tight circuit (outgassing after the pumping time, by
    volume), each unit 0.8–1.5 × it, so the rise-test rows of the demo line agree with their expectation."""
    factors = []
    for n in range(20):
        unit = UnitTruth(f"HP26-{n:07d}", model_code, frozenset(), near_limit=False)
        output = generate(station_type="vacuum_dehydration", unit=unit, rng=random.Random(n))
        _, pressure = output.traces["Pressure_Pa"]
        isolated = int(output.values["IsolationAt_s"])  # one sample a second from t = 0
        expected = expected_tight_rise_pa(
            volume_l=product_facts(model_code).internal_volume_l,
            duration_s=output.values["RiseTestDuration_s"],
            pumped_for_s=output.values["IsolationAt_s"],
        )
        # the trace's own 1 % noise on ~20–30 Pa: average the last 30 s
        rise = sum(pressure[-30:]) / 30 - pressure[isolated]
        factors.append(rise / expected)
    assert all(0.6 < f < 1.7 for f in factors), factors
    assert max(factors) - min(factors) > 0.2  # units differ


def test_consecutive_units_share_their_batches_as_on_a_line():
    """A furnace run, coil batch, filler and cylinder lot each hold consecutive units, so a lot's genealogy
    on the demo line names many units (a random id per unit named one or two)."""

    def lots(station_type: str, name: str, first: int, count: int) -> list[str]:
        return [
            str(
                generate(
                    station_type=station_type,
                    unit=UnitTruth(f"HP26-{n:07d}", "HPM-06-R290-EVI", frozenset(), near_limit=False),
                    rng=random.Random(n),
                ).values[name]
            )
            for n in range(first, first + count)
        ]

    assert lots("brazing", "FurnaceRun", 100, 25) == ["FR-0004"] * 25
    assert lots("brazing", "FurnaceRun", 124, 2) == ["FR-0004", "FR-0005"]
    assert set(lots("coil_expansion", "CoilBatch", 50, 50)) == {"CB-0001"}
    assert set(lots("brazing", "FillerLot", 200, 30)) == {"AG15-0001"}
    assert set(lots("charging", "CylinderLot", 0, 30)) == {"CYL-R290-0000"}  # 40 kg / 140 g: 285 units
