"""Faults the simulated line can inject, and the ground truth it keeps per serial."""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass


class Fault(enum.StrEnum):
    """Each fault names the station type that must catch it (``catching_station``)."""

    GROSS_LEAK = "gross_leak"
    FINE_LEAK = "fine_leak"
    MOISTURE = "moisture"
    UNDERCHARGE = "undercharge"
    OVERCHARGE = "overcharge"
    CHARGE_OVER_CAP = "charge_over_cap"
    WRONG_COMPRESSOR = "wrong_compressor"
    DEW_POINT_EXCURSION = "dew_point_excursion"
    EVI_STUCK_CLOSED = "evi_stuck_closed"
    DEFROST_TIMEOUT = "defrost_timeout"
    AIR_SENSOR_DRIFT = "air_sensor_drift"
    PLC_DROPS_OFF = "plc_drops_off"

    @property
    def catching_station(self) -> str:
        return CATCHING_STATION[self]


CATCHING_STATION: dict[Fault, str] = {
    Fault.GROSS_LEAK: "vacuum_dehydration",
    Fault.FINE_LEAK: "leak_test",
    Fault.MOISTURE: "vacuum_dehydration",
    Fault.UNDERCHARGE: "charging",
    Fault.OVERCHARGE: "charging",
    Fault.CHARGE_OVER_CAP: "charging",
    Fault.WRONG_COMPRESSOR: "sub_base_assembly",
    Fault.DEW_POINT_EXCURSION: "brazing",
    Fault.EVI_STUCK_CLOSED: "run_in",
    Fault.DEFROST_TIMEOUT: "run_in",
    Fault.AIR_SENSOR_DRIFT: "run_in",
    Fault.PLC_DROPS_OFF: "",  # not a unit defect: the result must still arrive exactly once
}

EVI_ONLY = {Fault.EVI_STUCK_CLOSED}
CHARGED_ONLY = {Fault.UNDERCHARGE, Fault.OVERCHARGE, Fault.CHARGE_OVER_CAP}


@dataclass(frozen=True, slots=True)
class UnitTruth:
    """What the simulator did to one unit: the ground truth to score the MES against."""

    serial: str
    model_code: str
    faults: frozenset[Fault]
    near_limit: bool

    @property
    def expected_failing_station(self) -> str | None:
        """The first station on the route that must fail this unit, or None for a good unit."""
        stations = [f.catching_station for f in self.faults if f.catching_station]
        order = ("brazing", "sub_base_assembly", "vacuum_dehydration", "charging", "leak_test", "run_in")
        return min(stations, key=order.index) if stations else None


def assign_faults(
    *,
    serials: Sequence[str],
    model_code: str,
    fault_rate: float,
    evi: bool,
    charged: bool,
    seed: int,
    kinds: Sequence[Fault] = tuple(Fault),
) -> dict[str, UnitTruth]:
    """Give ``fault_rate`` of the units one fault each, cycling through every applicable kind."""
    rng = random.Random(seed)
    applicable = [k for k in kinds if (evi or k not in EVI_ONLY) and (charged or k not in CHARGED_ONLY)]
    faulty = set(rng.sample(list(serials), round(len(serials) * fault_rate))) if applicable else set()
    truth: dict[str, UnitTruth] = {}
    next_kind = 0
    for serial in serials:
        faults: frozenset[Fault] = frozenset()
        if serial in faulty:
            faults = frozenset({applicable[next_kind % len(applicable)]})
            next_kind += 1
        truth[serial] = UnitTruth(serial, model_code, faults, near_limit=rng.random() < 0.3)
    return truth
