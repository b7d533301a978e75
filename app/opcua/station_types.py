"""What the adapter needs to know about a station type: its measurement names and kinds and its channels.

The authoritative source is the ``stations`` registry (one module per station type). This module
only narrows a registered station type to the slice the OPC UA contract needs, and holds the
interface-version-1 table of plc-interface.md as a fallback for tests and the simulator while the
registry is not available.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.results import MeasurementKind

INTERFACE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """One ``Result.Values.<name>`` node and the kind of value it holds."""

    name: str
    kind: MeasurementKind = "number"


@dataclass(frozen=True, slots=True)
class StationTypeSpec:
    """The OPC UA view of a station type (contract interface version 1)."""

    code: str
    values: tuple[ValueSpec, ...]
    trace_channels: tuple[str, ...] = ()
    extra_live_channels: tuple[str, ...] = ()

    @property
    def live_channels(self) -> tuple[str, ...]:
        """Every ``Live.<channel>``: one per trace channel plus the extra ones."""
        return self.trace_channels + self.extra_live_channels


StationTypeLookup = Callable[[str], StationTypeSpec]
"""Find a station type by its code; raises ``KeyError`` for an unknown code."""


class _RegisteredStationType(Protocol):
    code: str
    measurements: Any
    traces: Any
    extra_live_channels: Any


def spec_from_registered(station_type: _RegisteredStationType) -> StationTypeSpec:
    """Narrow a ``stations`` registry entry to what the contract needs."""
    return StationTypeSpec(
        code=station_type.code,
        values=tuple(ValueSpec(name=m.name, kind=m.kind) for m in station_type.measurements),
        trace_channels=tuple(t.channel for t in station_type.traces),
        extra_live_channels=tuple(station_type.extra_live_channels),
    )


def lookup_from_specs(specs: Iterable[StationTypeSpec]) -> StationTypeLookup:
    """A lookup over a fixed set of station type descriptions (tests, simulator fallback)."""
    table: Mapping[str, StationTypeSpec] = {spec.code: spec for spec in specs}

    def lookup(code: str) -> StationTypeSpec:
        return table[code]

    return lookup


def registry_lookup() -> StationTypeLookup | None:
    """The lookup over the ``stations`` registry, or None when that package cannot be imported."""
    try:
        stations = importlib.import_module("stations")
    except ImportError:
        return None
    get_station_type = stations.get_station_type

    def lookup(code: str) -> StationTypeSpec:
        try:
            station_type = get_station_type(code)
        except LookupError as exc:
            raise KeyError(code) from exc
        if not station_type.has_plc:
            raise KeyError(code)
        return spec_from_registered(station_type)

    return lookup


def default_lookup() -> StationTypeLookup:
    """The ``stations`` registry when present, else the contract's own v1 table."""
    return registry_lookup() or lookup_from_specs(contract_v1_specs())


def _numbers(*names: str) -> tuple[ValueSpec, ...]:
    return tuple(ValueSpec(name) for name in names)


def _run_in_values() -> tuple[ValueSpec, ...]:
    per_plateau = (
        "WindowStart_s",
        "WindowEnd_s",
        "AirTemp_C",
        "WaterIn_C",
        "WaterOut_C",
        "WaterFlow_l_min",
        "CompSpeed_rps",
        "SuctionP_bar",
        "DischargeP_bar",
        "SuctionT_C",
        "DischargeT_C",
        "LiquidT_C",
        "CompPower_W",
        "UnitPower_W",
        "UnitAirSensor_C",
    )
    values = [ValueSpec(f"{p}_{n}") for p in ("M10", "P07", "P45") for n in per_plateau]
    values += _numbers(
        "M10_EviStepAt_s",
        "M10_EviOff_Capacity_W",
        "M10_EviOn_Capacity_W",
        "M10_EviOff_DischargeT_C",
        "M10_EviOn_DischargeT_C",
        "M10_EviOn_InjectionT_C",
        "Defrost_StartAt_s",
        "Defrost_Duration_s",
    )
    values += [ValueSpec("Defrost_EndedOn", "string"), ValueSpec("Defrost_Sequence", "string")]
    return tuple(values)


def contract_v1_specs() -> tuple[StationTypeSpec, ...]:
    """The result table of plc-interface.md, interface version 1."""
    return (
        StationTypeSpec(
            code="coil_expansion",
            values=(
                ValueSpec("CoilBatch", "string"),
                *_numbers("PeakForce_kN", "LengthLoss_mm", "FinPitch_mm"),
            ),
            trace_channels=("HairpinPeakForce_kN", "Force_kN"),
        ),
        StationTypeSpec(
            code="brazing",
            values=(
                ValueSpec("FurnaceRun", "string"),
                ValueSpec("FillerLot", "string"),
                *_numbers("PeakZoneTemp_C", "DewPoint_C", "O2_ppm", "BeltSpeed_mm_min"),
            ),
            trace_channels=("PartTemp_C",),
        ),
        StationTypeSpec(
            code="sub_base_assembly",
            values=(
                *(
                    ValueSpec(name, "string")
                    for name in (
                        "CompressorSerial",
                        "CompressorModel",
                        "InverterSerial",
                        "InverterModel",
                        "InverterFirmware",
                        "EviValveSerial",
                        "EviValveModel",
                    )
                ),
                *_numbers("EarthContinuity_ohm", "EarthTestCurrent_A"),
                ValueSpec("HipotPassed", "bool"),
            ),
            trace_channels=("FastenerTorque_Nm",),
        ),
        StationTypeSpec(
            code="vacuum_dehydration",
            values=_numbers("IsolationAt_s", "PressureAtIsolation_Pa", "TimeBelowTarget_s", "RiseTestDuration_s"),
            trace_channels=("Pressure_Pa",),
        ),
        StationTypeSpec(
            code="charging",
            values=(
                *_numbers("ChargedMass_g"),
                ValueSpec("CylinderLot", "string"),
                *_numbers("LiquidTemp_C", "LiquidPressure_bar", "ChargeTime_s"),
            ),
            extra_live_channels=("ChargedMass_g",),
        ),
        StationTypeSpec(
            code="leak_test",
            values=(
                ValueSpec("TracerGas", "string"),
                *_numbers("LeakSignal_mbar_l_s", "TestPressure_bar"),
                ValueSpec("InstrumentId", "string"),
                ValueSpec("RefLeakCheckAt", "datetime"),
                *_numbers("RefLeakNominal_mbar_l_s", "RefLeakReading_mbar_l_s"),
            ),
            extra_live_channels=("LeakSignal_mbar_l_s",),
        ),
        StationTypeSpec(
            code="run_in",
            values=_run_in_values(),
            trace_channels=(
                "AirT_C",
                "DischargeT_C",
                "SuctionP_bar",
                "DischargeP_bar",
                "CoilT_C",
                "WaterOut_C",
            ),
        ),
    )
