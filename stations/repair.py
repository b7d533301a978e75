"""repair: a manual repair bench (no PLC); the operator records on the tablet what was done.

A compressor, inverter board or EVI valve replaced and recorded with its kind, serial and model (on the
tablet or over the API) enters the unit's genealogy on the repair attempt, and the part it replaces is
marked removed (app.services.traceability.replace_part); a replaced part without a kind is recorded as
text only.
"""

from ._checks import OneOfCheck, PresenceCheck
from ._schema import MeasurementSpec, ReworkDefault, StationType

REPAIR_ACTIONS: tuple[str, ...] = ("rebraze", "replace_part", "recover_refrigerant", "scrap_coil", "other")
# Recorded when the unit held refrigerant: the repair emptied the circuit (it holds no charge after it).
RECOVERED_MASS = "RecoveredMass_g"

STATION_TYPE = StationType(
    code="repair",
    title="Repair bench",
    plant_name="repair",
    has_plc=False,
    measurements=(
        MeasurementSpec(name="RepairAction", kind="string", description="one of " + ", ".join(REPAIR_ACTIONS)),
        MeasurementSpec(name="RepairDescription", kind="string", description="what was done, in words"),
        MeasurementSpec(
            name="ReplacedPartKind",
            kind="string",
            required=False,
            description="compressor, inverter or evi_valve: the new part enters the unit's genealogy",
        ),
        MeasurementSpec(name="ReplacedPartSerial", kind="string", required=False),
        MeasurementSpec(name="ReplacedPartModel", kind="string", required=False),
        MeasurementSpec(name=RECOVERED_MASS, unit="g", required=False),
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
