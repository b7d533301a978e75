"""repair: a manual repair bench (no PLC); the operator records on the tablet what was done."""

from ._checks import OneOfCheck, PresenceCheck
from ._schema import MeasurementSpec, ReworkDefault, StationType

REPAIR_ACTIONS: tuple[str, ...] = ("rebraze", "replace_part", "recover_refrigerant", "scrap_coil", "other")

STATION_TYPE = StationType(
    code="repair",
    title="Repair bench",
    has_plc=False,
    measurements=(
        MeasurementSpec(name="RepairAction", kind="string", description="one of " + ", ".join(REPAIR_ACTIONS)),
        MeasurementSpec(name="RepairDescription", kind="string", description="what was done, in words"),
        MeasurementSpec(name="ReplacedPartSerial", kind="string", required=False),
        MeasurementSpec(name="ReplacedPartModel", kind="string", required=False),
        MeasurementSpec(name="RecoveredMass_g", unit="g", required=False),
    ),
    checks=(
        OneOfCheck(name="repair_action", label="repair action", measurement="RepairAction", allowed=REPAIR_ACTIONS),
        PresenceCheck(name="repair_described", label="repair description", measurement="RepairDescription"),
    ),
    retest_cap=0,
    rework=(
        ReworkDefault(failure_mode="*", action="hold", reentry_station_type=None, note="repair record incomplete"),
    ),
)
