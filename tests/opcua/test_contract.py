"""The adapter's view of the contract agrees with plc-interface.md and with the stations registry."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from asyncua import ua

import stations
from app.opcua import codec
from app.opcua.backend import PlcValue
from app.opcua.nodes import StationNodes
from app.opcua.station_types import contract_v1_specs, default_lookup, registry_lookup


@pytest.mark.parametrize("spec", contract_v1_specs(), ids=lambda s: s.code)
def test_registered_station_type_matches_the_contract_table(spec):
    lookup = registry_lookup()
    assert lookup is not None
    assert lookup(spec.code) == spec


@pytest.mark.parametrize("spec", contract_v1_specs(), ids=lambda s: s.code)
def test_node_ids_agree_with_the_registry_derivation(spec):
    nodes = StationNodes(station_id="ST-9", station_type=spec, namespace_index=2)
    derived = stations.node_ids(station_id="ST-9", station_type=spec.code)
    assert {name: nodes.value(name).Identifier for name in derived.values} == dict(derived.values)
    assert {ch: (nodes.trace(ch).Identifier, nodes.trace_time(ch).Identifier) for ch in derived.traces} == dict(
        derived.traces
    )
    assert {ch: nodes.live(ch).Identifier for ch in derived.live} == dict(derived.live)


def test_adapter_finds_station_types_through_the_registry():
    with pytest.raises(KeyError):
        default_lookup()("repair")  # a station without a PLC has no OPC UA nodes
    assert default_lookup()("charging").code == "charging"


def test_counter_wraps_from_max_to_one_and_zero_means_nothing_yet():
    assert codec.next_counter(0) == 1
    assert codec.next_counter(4_294_967_294) == 4_294_967_295
    assert codec.next_counter(4_294_967_295) == 1
    assert not codec.is_pending(counter=0, answered=7)
    assert codec.is_pending(counter=1, answered=4_294_967_295)


def test_nan_null_datetime_and_bad_status_map_to_not_measured():
    nan = ua.DataValue(ua.Variant(math.nan, ua.VariantType.Double))
    assert codec.to_plc_value(nan, "number").value is None
    null = ua.DataValue(ua.Variant(datetime(1601, 1, 1, tzinfo=UTC), ua.VariantType.DateTime))
    assert codec.to_plc_value(null, "datetime").value is None
    bad = ua.DataValue(
        ua.Variant(3.0, ua.VariantType.Double), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure)
    )
    assert codec.to_plc_value(bad, "number") == PlcValue(value=None, quality="bad")
    uncertain = ua.DataValue(
        ua.Variant(3.0, ua.VariantType.Double), StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)
    )
    assert codec.to_plc_value(uncertain, "number") == PlcValue(value=3.0, quality="uncertain")


def test_write_values_carry_exact_type_and_no_status_or_timestamps():
    dv = codec.uint32(5)
    assert dv.Value.VariantType == ua.VariantType.UInt32
    assert dv.StatusCode is None and dv.SourceTimestamp is None and dv.ServerTimestamp is None
