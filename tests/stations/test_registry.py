"""The station registry: every module is found, every type honours the contract, one new file adds a type."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import stations
from app.cyclemodel.defrost import expected_defrost
from app.domain.results import Verdict
from app.rules import build_spec, judge
from stations import (
    OPCUA_BUILTIN_TYPE,
    UnknownStationTypeError,
    all_station_types,
    get_station_type,
    node_ids,
    refresh_station_types,
)
from stations._schema import StationType
from tests.rules.factories import HPM_06, HPS_10, NOW, FakeCycleExpectations, good_result

LINE_STATION_TYPES = {
    "coil_expansion",
    "brazing",
    "sub_base_assembly",
    "vacuum_dehydration",
    "charging",
    "leak_test",
    "run_in",
}
STATION_TYPES = sorted(st.code for st in all_station_types())


def test_registry_discovers_every_station_module_of_the_line_and_the_repair_bench() -> None:
    assert set(STATION_TYPES) == LINE_STATION_TYPES | {"repair"}
    assert not get_station_type("repair").has_plc


def test_unknown_station_type_is_a_clear_lookup_error() -> None:
    with pytest.raises(UnknownStationTypeError, match="unknown station type 'soldering'"):
        get_station_type("soldering")


@pytest.mark.parametrize("code", STATION_TYPES)
def test_station_type_schema_is_valid(code: str) -> None:
    st = get_station_type(code)
    names = [m.name for m in st.measurements]
    assert len(names) == len(set(names)), "measurement names are unique"
    channels = [t.channel for t in st.traces]
    assert len(channels) == len(set(channels))
    for m in st.measurements:
        assert m.kind in OPCUA_BUILTIN_TYPE
        assert "." not in m.name and " " not in m.name
        assert (m.unit is not None) == (m.kind == "number"), f"{m.name}: numbers and only numbers carry a unit"
    for component in st.components:
        assert st.measurement(component.identifier) is not None
        assert component.model is None or st.measurement(component.model) is not None
    assert st.retest_cap >= 0
    assert any(row.failure_mode == "*" for row in st.rework), "every type has a catch-all rework row"


@pytest.mark.parametrize("code", STATION_TYPES)
def test_every_check_names_real_measurements_channels_and_limits(code: str) -> None:
    st = get_station_type(code)
    measurement_names = {m.name for m in st.measurements}
    channels = {t.channel for t in st.traces}
    limits = {lim.name for lim in st.limits}
    check_names = [c.name for c in st.checks]
    assert len(check_names) == len(set(check_names))
    for check in st.checks:
        refs = check.refs()
        assert set(refs.measurements) <= measurement_names, check.name
        assert set(refs.channels) <= channels, check.name
        assert set(refs.limits) <= limits, check.name
        assert check.failure_mode is None or check.failure_mode in st.failure_modes, check.name


@pytest.mark.parametrize("code", STATION_TYPES)
def test_default_limits_are_complete_and_every_limit_is_used(code: str) -> None:
    st = get_station_type(code)
    used = {name for check in st.checks for name in check.refs().limits}
    assert used == {lim.name for lim in st.limits}
    for product in (HPM_06, HPS_10):
        spec = build_spec(station_type=st, product=product)
        assert set(spec.limits) == used
        for lim in spec.limits.values():
            assert lim.uncertainty >= 0
            if lim.origin != "product":
                assert lim.applies, f"{lim.name} has a default bound"


#: The checks each station's sample result must be judged by, written out here from line.md (not read
#: from the station tables, which would compare a table with itself): a check dropped from a table fails.
JUDGED_CHECKS: dict[str, set[str]] = {
    "coil_expansion": {
        "coil_batch_recorded",
        "hairpin_peak_force",
        "peak_force",
        "force_curve_recorded",
        "length_loss",
        "fin_pitch",
    },
    "brazing": {
        "furnace_run_recorded",
        "filler_lot_recorded",
        "part_peak_temperature",
        "dew_point",
        "oxygen",
        "belt_speed",
    },
    "sub_base_assembly": {
        "compressor_bom",
        "inverter_bom",
        "evi_valve_bom",
        "inverter_firmware_recorded",
        "earth_continuity",
        "earth_test_current",
        "hipot",
        "fastener_torque",
    },
    "vacuum_dehydration": {"time_below_target", "time_below_target_station_cross_check", "rise_test"},
    "charging": {"charged_mass", "market_charge_cap", "cylinder_lot_recorded"},
    "leak_test": {
        "tracer_gas",
        "instrument_recorded",
        "reference_leak_age",
        "reference_leak_reading",
        "leak_rate",
        "test_pressure",
    },
    "run_in": {
        *(
            f"{plateau}_{check}"
            for plateau in ("M10", "P07", "P45")
            for check in (
                "steady_window",
                "steady_window_spread",
                "evaporating_temp_c",
                "condensing_temp_c",
                "discharge_temp_c",
                "superheat_k",
                "capacity_w",
                "cop",
                "compressor_power_w",
                "air_sensor_drift",
            )
        ),
        "evi_capacity_gain",
        "evi_discharge_change",
        "defrost_sequence",
        "defrost_end",
        "defrost_duration",
        "defrost_coil_temperature",
        "defrost_water_recovery",
    },
    "repair": {"repair_action", "repair_described"},
}


@pytest.mark.parametrize("code", STATION_TYPES)
def test_a_sample_result_judges_without_error_and_passes(code: str) -> None:
    spec = build_spec(station_type=code, product=HPM_06)
    judgement = judge(
        station_type=code,
        spec=spec,
        result=good_result(code),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    assert judgement.verdict is Verdict.PASS, [c.message for c in judgement.checks if c.verdict is not Verdict.PASS]
    assert {c.name for c in judgement.checks} >= JUDGED_CHECKS[code]


def test_every_stations_default_retest_cap_is_line_mds() -> None:
    """line.md: "Retest caps (plant defaults): coil_expansion 0, brazing 0 …, sub_base_assembly 1,
    vacuum_dehydration 1, charging 1, leak_test 2, run_in 1"."""
    line_md = {
        "coil_expansion": 0,
        "brazing": 0,
        "sub_base_assembly": 1,
        "vacuum_dehydration": 1,
        "charging": 1,
        "leak_test": 2,
        "run_in": 1,
    }
    assert {code: get_station_type(code).retest_cap for code in LINE_STATION_TYPES} == line_md


def test_the_run_in_defrost_checks_are_the_cycle_models_defrost_expectation() -> None:
    """Issue 4: the expected defrost is data of the cycle model that the defrost check uses; the
    station keeps no second copy of the order, the end condition or the limits' defaults."""
    run_in = get_station_type("run_in")
    checks = {check.name: check for check in run_in.checks}
    expected = expected_defrost()
    assert checks["defrost_sequence"].expected is expected.sequence
    assert checks["defrost_end"].allowed == (expected.ends_on,)
    defaults = {
        name: run_in.limit(name)
        for name in ("defrost_duration_s", "defrost_coil_peak_c", "water_recovery_band_k", "water_recovery_time_s")
    }
    assert {name: (d.low, d.high) for name, d in defaults.items() if d is not None} == {
        "defrost_duration_s": (None, expected.max_duration_s),
        "defrost_coil_peak_c": (expected.coil_rises_above_c, None),
        "water_recovery_band_k": (None, expected.water_out_recovery_band_k),
        "water_recovery_time_s": (None, expected.water_out_recovery_within_s),
    }


@pytest.mark.parametrize("code", sorted(LINE_STATION_TYPES))
def test_node_ids_are_derived_from_the_contract_names(code: str) -> None:
    st = get_station_type(code)
    ids = node_ids(station_id="ST-01", station_type=code)
    assert ids.values == {m.name: f"ST-01.Result.Values.{m.name}" for m in st.measurements}
    for channel, (samples, times) in ids.traces.items():
        assert samples == f"ST-01.Result.Traces.{channel}"
        assert times == f"ST-01.Result.Traces.{channel}_t"
    assert set(ids.live) == {t.channel for t in st.traces} | set(st.extra_live_channels)


def test_live_channels_include_the_extra_ones_of_the_contract() -> None:
    assert node_ids(station_id="CHG-01", station_type="charging").live == {"ChargedMass_g": "CHG-01.Live.ChargedMass_g"}
    assert "LeakSignal_mbar_l_s" in node_ids(station_id="LT-01", station_type="leak_test").live


def test_node_ids_refuse_bad_station_ids_and_stations_without_plc() -> None:
    with pytest.raises(ValueError, match="does not match"):
        node_ids(station_id="vac.01", station_type="vacuum_dehydration")
    with pytest.raises(ValueError, match="no PLC"):
        node_ids(station_id="REP-01", station_type="repair")


THROWAWAY = textwrap.dedent(
    '''
    """A throwaway station type written by a test."""
    from stations._checks import RangeCheck
    from stations._schema import LimitDefault, MeasurementSpec, ReworkDefault, StationType, TraceSpec

    STATION_TYPE = StationType(
        code="label_printing",
        title="Label printing",
        has_plc=True,
        measurements=(MeasurementSpec(name="PrintContrast_pct", unit="%"),),
        traces=(TraceSpec(channel="HeadTemp_C", unit="°C"),),
        checks=(
            RangeCheck(name="contrast", label="print contrast", measurement="PrintContrast_pct",
                       limit="contrast_pct"),
        ),
        limits=(LimitDefault(name="contrast_pct", unit="%", low=80.0, uncertainty=1.0, origin="plant"),),
        rework=(ReworkDefault(failure_mode="*", action="repeat", reentry_station_type="label_printing"),),
    )
    '''
)


@pytest.fixture
def throwaway_station_dir(tmp_path: Path) -> Iterator[Path]:
    """A temporary directory on the ``stations`` package path (no file of the repository touched)."""
    (tmp_path / "label_printing.py").write_text(THROWAWAY, encoding="utf-8")
    stations.__path__.append(str(tmp_path))
    refresh_station_types()
    try:
        yield tmp_path
    finally:
        stations.__path__.remove(str(tmp_path))
        refresh_station_types()


def test_a_new_station_module_is_discovered_and_gets_node_ids(throwaway_station_dir: Path) -> None:
    st = get_station_type("label_printing")
    assert isinstance(st, StationType)
    assert "label_printing" in {s.code for s in all_station_types()}
    ids = node_ids(station_id="LBL-01", station_type="label_printing")
    assert ids.values == {"PrintContrast_pct": "LBL-01.Result.Values.PrintContrast_pct"}
    assert ids.traces == {"HeadTemp_C": ("LBL-01.Result.Traces.HeadTemp_C", "LBL-01.Result.Traces.HeadTemp_C_t")}
    assert ids.live == {"HeadTemp_C": "LBL-01.Live.HeadTemp_C"}


def test_a_new_station_module_is_judged_by_the_engine(throwaway_station_dir: Path) -> None:
    from app.domain.results import Measurement, StationResult, Trace

    spec = build_spec(station_type="label_printing", product=HPM_06)
    result = StationResult(
        measurements=(Measurement(name="PrintContrast_pct", value=78.0),),
        traces=(Trace(channel="HeadTemp_C", t_s=(0.0, 1.0), values=(60.0, 61.0)),),
    )
    judgement = judge(
        station_type="label_printing", spec=spec, result=result, expectations=None, retest_count=0, now=NOW
    )
    assert judgement.verdict is Verdict.FAIL
    assert "print contrast 78 % is below 80 %" in judgement.checks[-1].message


def test_a_new_station_module_without_a_plant_name_reads_as_its_code_with_spaces(
    throwaway_station_dir: Path,
) -> None:
    assert get_station_type("label_printing").plant_name == "label printing"
    assert stations.plant_name("label_printing") == "label printing"


def test_the_throwaway_station_is_gone_once_its_directory_leaves_the_path(
    throwaway_station_dir: Path,
) -> None:
    stations.__path__.remove(str(throwaway_station_dir))
    refresh_station_types()
    try:
        with pytest.raises(UnknownStationTypeError):
            get_station_type("label_printing")
    finally:
        stations.__path__.append(str(throwaway_station_dir))


@pytest.mark.parametrize("code", STATION_TYPES)
def test_station_type_description_is_plain_json(code: str) -> None:
    import json

    from stations import describe_station_type

    described = json.loads(json.dumps(describe_station_type(get_station_type(code))))
    assert described["code"] == code
    assert [m["name"] for m in described["measurements"]] == [m.name for m in get_station_type(code).measurements]
    assert (described["node_ids"] != {}) == get_station_type(code).has_plc


def test_every_station_type_of_the_line_has_the_name_operators_read() -> None:
    """Instructions and refusals name station types as the plant does ("repeat vacuum dehydration",
    "must go to repair"), from the station modules themselves: one source, not a second table."""
    assert {st.code: st.plant_name for st in all_station_types()} == {
        "coil_expansion": "coil expansion",
        "brazing": "brazing",
        "sub_base_assembly": "sub-base assembly",
        "vacuum_dehydration": "vacuum dehydration",
        "charging": "charging",
        "leak_test": "leak test",
        "run_in": "run-in",
        "repair": "repair",
    }
    assert stations.plant_name("run_in") == "run-in"
    assert stations.plant_name("not_a_station") == "not a station"  # a code no module declares
