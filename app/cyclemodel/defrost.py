"""What a forced defrost at the -10 °C plateau should look like, as data the defrost check uses.

While the 4-way valve is reversed the outdoor coil is the condenser, so its temperature rises above
0 °C and melts the frost; suction and discharge keep their names (the compressor's ports), so the
suction pressure is still the low side. A healthy defrost ends on coil temperature, not on its time-out,
and the water outlet temperature dips and then recovers.

The run_in station's defrost checks (``stations/run_in.py``) take their step order and end condition
from ``DEFAULT_DEFROST``, and its defrost limits' defaults from it; a specification revision then holds
those limits as its own data, so a plant changes them there, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFROST_STEPS = ("compressor_stop", "fan_stop", "valve_reverse", "compressor_start", "valve_restore", "fan_start")


@dataclass(frozen=True, slots=True)
class DefrostExpectation:
    """The expected sequence and signatures of a forced defrost (plant defaults where marked)."""

    sequence: tuple[str, ...] = (
        "compressor_stop", "fan_stop", "valve_reverse", "compressor_start",
        "compressor_stop", "valve_restore", "fan_start", "compressor_start",
    )  # fmt: skip
    coil_rises_above_c: float = 0.0  # the reversed outdoor coil condenses: above the melting point
    ends_on: str = "temperature"  # not "timeout"
    max_duration_s: float = 600.0  # public: manufacturer manuals
    water_out_recovery_band_k: float = 1.0  # plant default
    water_out_recovery_within_s: float = 600.0  # plant default
    suction_stays_below_discharge: bool = True  # ports keep their names, the valve swaps the coils


DEFAULT_DEFROST = DefrostExpectation()


def expected_defrost() -> DefrostExpectation:
    """The defrost expectation (the same for the three demo products)."""
    return DEFAULT_DEFROST


def parse_sequence(*, reported: str) -> tuple[str, ...]:
    """The steps of a reported ``Defrost_Sequence`` string; unknown step names raise ValueError."""
    steps = tuple(step.strip() for step in reported.split(",") if step.strip())
    unknown = [step for step in steps if step not in DEFROST_STEPS]
    if unknown:
        raise ValueError(f"unknown defrost step(s): {', '.join(unknown)}")
    return steps
