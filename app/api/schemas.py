"""Request and response documents of the REST API. Every field is described for the integrator.

Numbers must be finite: "not measured" is ``null``; NaN and infinity are refused as malformed.
"""

from __future__ import annotations

import itertools
import operator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.domain.results import ComponentKind, Verdict

MAX_TRACE_SAMPLES = 20_000

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Operator = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
SerialText = Annotated[str, Field(max_length=64, description="Serial number, e.g. HP26-0000123 (plant format)")]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]

# Record ids as the database stores them: spec revisions in INTEGER columns; attempts, holds, tokens in BIGINT.
# A larger number names no record, and PostgreSQL refuses to compare it with the column: 422, not 500.
MAX_INTEGER_ID = 2**31 - 1
MAX_BIGINT_ID = 2**63 - 1
SpecRevisionIdPath = Annotated[int, Path(ge=1, le=MAX_INTEGER_ID, description="Specification revision id")]
AttemptIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="Attempt id")]
HoldIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="Hold id")]
LotHoldIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="Lot hold id (a hold's `lot_hold_id`)")]
TokenIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="Token id")]


def _representable_in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("lies outside the years 1 to 9999 once converted to UTC") from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]
"""An ISO-8601 instant with its offset, that the database can store (stored in UTC)."""


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- operations -------------------------------------------------------------------------------


class StartRequest(Input):
    """Ask to start a unit at this station (the route interlock decides)."""

    serial: SerialText
    operator: Operator | None = Field(
        default=None,
        description="Only for a station's service account: the operator its own sign-in knows; a person is "
        "recorded as signed in (naming anyone else is refused)",
    )


class MeasurementIn(Input):
    name: Name = Field(description="Measurement name as in the PLC contract, e.g. ChargedMass_g")
    value: FiniteFloat | StrictBool | Annotated[str, StringConstraints(max_length=255)] | None = Field(
        description="Number, boolean, text (identifiers, ISO-8601 UTC instants) or null for 'not measured'"
    )
    unit: Annotated[str, StringConstraints(max_length=16)] | None = Field(default=None, description="e.g. g, Pa, kN")


class TraceIn(Input):
    channel: Name = Field(description="Trace channel, e.g. Pressure_Pa")
    t_s: Annotated[list[FiniteFloat], Field(max_length=MAX_TRACE_SAMPLES)] = Field(
        description="Seconds since cycle start, strictly increasing"
    )
    values: Annotated[list[FiniteFloat], Field(max_length=MAX_TRACE_SAMPLES)] = Field(
        description="One sample per time stamp"
    )

    @model_validator(mode="after")
    def _consistent(self) -> TraceIn:
        if len(self.t_s) != len(self.values):
            raise ValueError(f"trace {self.channel}: {len(self.t_s)} time stamps but {len(self.values)} values")
        if all(map(operator.lt, self.t_s, itertools.islice(self.t_s, 1, None))):
            return self  # thousands of samples per trace: the common case compares them at C speed
        for i in range(1, len(self.t_s)):
            if self.t_s[i] <= self.t_s[i - 1]:
                raise ValueError(
                    f"trace {self.channel}: time must increase, but sample {i} is at "
                    f"{self.t_s[i]} s after {self.t_s[i - 1]} s"
                )
        return self


class ComponentIn(Input):
    kind: ComponentKind = Field(description="What was consumed")
    identifier: Annotated[str, StringConstraints(pattern=r"^[!-~]{1,64}$")] = Field(
        description="Component serial or lot id (printable ASCII, no spaces)"
    )
    model: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Component model as scanned, e.g. RSC-19-EVI"
    )


class CompleteRequest(Input):
    """The result of a cycle, judged by the MES (the sender gives no verdict). ``result_id`` makes
    delivery idempotent: the same id at the same station records one result and answers the same.
    Measurement names, kinds and units are those of the station type (see listStationTypes)."""

    serial: SerialText
    result_id: Annotated[str, StringConstraints(pattern=r"^[!-~]{1,64}$")] = Field(
        description="Unique id of this result at this station (the PLC's Result.Id)"
    )
    operator: Operator | None = Field(
        default=None,
        description="Only for a station's service account: the operator its own sign-in knows; a person is "
        "recorded as signed in (naming anyone else is refused)",
    )
    measurements: Annotated[list[MeasurementIn], Field(max_length=500)] = []
    traces: Annotated[list[TraceIn], Field(max_length=50)] = []
    components: Annotated[list[ComponentIn], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _unique_names(self) -> CompleteRequest:
        for label, names in (
            ("measurement", [x.name for x in self.measurements]),
            ("trace channel", [x.channel for x in self.traces]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{label} {name} appears twice")
                seen.add(name)
        return self


class AttemptOut(Output):
    """One attempt of a unit at a station."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: int
    station_id: str
    station_type: str
    status: Literal["open", "passed", "failed", "retest", "aborted"]
    verdict: Verdict | None
    retest_index: int = Field(description="0 for the first measurement, n for the n-th retest")
    started_at: datetime
    completed_at: datetime | None
    started_by: str | None
    completed_by: str | None
    origin: str = Field(description="rest, plc or operator")
    result_id: str | None = Field(validation_alias="result_key")
    summary: str | None = Field(description="Why it failed, aborted or needs a retest, in plant words")
    failure_mode: str | None
    alarm: str | None
    instruction: str | None = Field(description="What to do with the unit next")
    spec_revision_id: int | None
    model_version: str | None
    rules_version: str | None = Field(description="Version of the judging rules that gave the verdict")
    use_as_is: bool
    effective_verdict: Verdict | None = Field(
        default=None,
        description="The verdict that counts: the latest verdict override's, else the engine's (verdict). "
        "A station's start and completion answers give the engine's (no override of a result can come "
        "before its answer; a repeated delivery answers as the first); the birth record gives it with "
        "every override since",
    )

    @model_validator(mode="after")
    def _engine_verdict_counts_unless_overridden(self) -> AttemptOut:
        if self.effective_verdict is None:
            self.effective_verdict = self.verdict
        return self


class UnitOut(Output):
    serial: str
    product_model: str
    work_order: str
    status: Literal["in_process", "on_hold", "finished", "scrapped"]
    next_step: str | None = Field(description="Station type the route expects next (repair during rework)")
    reentry_step: str | None = Field(description="Where the unit re-enters its route after repair")
    rework_loops: int
    created_at: datetime
    updated_at: datetime


class CheckOut(Output):
    name: str
    verdict: Verdict
    rule: str
    message: str
    measured: float | None
    expected: float | None
    limit_low: float | None
    limit_high: float | None
    uncertainty: float | None
    failure_mode: str | None


class StartResponse(BaseModel):
    attempt: AttemptOut
    resumed: bool = Field(description="True when the unit already had this attempt open here")
    aborted_serials: list[str] = Field(description="Units whose open attempt here was closed as aborted")


class CompletionResponse(BaseModel):
    attempt: AttemptOut
    checks: list[CheckOut]
    unit: UnitOut
    duplicate: bool = Field(description="True when this result id had already been recorded")


class InterlockOut(BaseModel):
    serial: str
    station_id: str
    allowed: bool
    reason: str = Field(description="Why not, in plant words; empty when allowed")


# --- traceability -----------------------------------------------------------------------------


class MeasurementOut(Output):
    name: str
    kind: Literal["number", "string", "bool", "datetime"]
    value: float | None
    text: str | None
    unit: str | None
    quality: Literal["uncertain", "bad"] | None = Field(
        default=None, description="The OPC UA status it was read with, when not Good (null: Good)"
    )


class TraceSummaryOut(BaseModel):
    channel: str
    n_samples: int
    t_start_s: float | None
    t_end_s: float | None
    value_min: float | None
    value_max: float | None
    value_first: float | None
    value_last: float | None
    quality: Literal["uncertain", "bad"] | None = Field(
        default=None, description="The OPC UA status it was read with, when not Good (null: Good)"
    )
    href: str = Field(description="Where to fetch the samples")


class ComponentOut(Output):
    kind: str
    identifier: str
    model: str | None
    removed_at: datetime | None = Field(
        description="When the part was taken out of the unit again (at the repair bench); null: fitted"
    )
    removed_by_attempt_id: int | None = Field(
        description="The repair attempt that took the part out; null while it is fitted"
    )


class SignatureIn(Input):
    """An electronic signature: re-enter your password (or badge PIN); the reason defaults to the action's."""

    secret: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Your password, or your PIN if you sign in by badge", json_schema_extra={"format": "password"}
    )
    reason: Reason | None = None


class SignatureOut(Output):
    """Who signed, what the signature means, when, and why."""

    id: int
    username: str
    display_name: str
    role: str | None
    meaning: str = Field(description='e.g. "release hold with disposition"')
    reason: str
    signed_at: datetime


class HoldOut(Output):
    id: int
    serial: str | None = None
    reason: str
    scope: str = Field(description="unit, component (a lot hold) or verdict (put by a FAIL)")
    scope_ref: str | None
    attempt_id: int | None
    created_at: datetime
    created_by: str | None
    released_at: datetime | None
    released_by: str | None
    disposition: str | None
    release_reason: str | None
    release_signature: SignatureOut | None = Field(default=None, description="The releaser's e-signature")
    lot_hold_id: int | None = Field(
        default=None,
        description="The lot hold this hold belongs to (placed by one hold-by-component request; release every "
        "hold of it still active with POST /api/v1/lot-holds/{lot_hold_id}/release); null for a hold on one unit",
    )


class OverrideOut(Output):
    """A person's verdict recorded beside the engine's (which stays on the attempt)."""

    id: int
    engine_verdict: Verdict
    verdict: Verdict
    reason: str
    by: str
    at: datetime
    signature: SignatureOut | None = Field(default=None, description="The quality engineer's e-signature")


class ManualCheckOut(Output):
    id: int
    name: str
    verdict: Verdict
    message: str
    by: str
    at: datetime


class AttemptDetailOut(AttemptOut):
    measurements: list[MeasurementOut]
    traces: list[TraceSummaryOut]
    components: list[ComponentOut]
    checks: list[CheckOut]
    overrides: list[OverrideOut] = Field(description="Verdict overrides, oldest first; the last one counts")
    manual_checks: list[ManualCheckOut]


class OverrideIn(Input):
    """A quality engineer's verdict on the unit's latest result, with the reason."""

    verdict: Literal["PASS", "FAIL"]
    reason: Reason
    signature: SignatureIn


class ManualCheckIn(Input):
    """A check made by a person (the signed-in user), e.g. a visual inspection of a brazed joint."""

    name: Name
    verdict: Literal["PASS", "FAIL"]
    message: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]


class BirthRecordOut(BaseModel):
    unit: UnitOut
    attempts: list[AttemptDetailOut] = Field(description="Every attempt at every station, in time order")
    holds: list[HoldOut]


class TraceSamplesOut(BaseModel):
    attempt_id: int
    channel: str
    t_s: list[float]
    values: list[float]


class GenealogyUnitOut(BaseModel):
    serial: str
    status: str
    product_model: str
    work_order: str
    kind: str
    identifier: str
    component_model: str | None
    station_id: str
    attempt_id: int
    consumed_at: datetime
    removed_at: datetime | None = Field(
        description="When the part was taken out of this unit (at the repair bench); null: fitted"
    )
    removed_by_attempt_id: int | None = Field(
        description="The repair attempt that took the part out of this unit; null while fitted"
    )


class GenealogyOut(BaseModel):
    identifier: str = Field(description="The identifier asked for, trimmed (each entry says it as recorded)")
    kind: str | None
    count: int = Field(
        description="Entries in units: one per consumption, so a unit that consumed the identifier twice "
        "(re-brazed in the same furnace run) counts twice; unit_count counts units"
    )
    unit_count: int = Field(description="Distinct units that consumed the identifier")
    units: list[GenealogyUnitOut]


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None = Field(description="Pass as 'cursor' to get the next page; null on the last page")


# --- holds ------------------------------------------------------------------------------------


class HoldRequest(Input):
    reason: Reason


class LotHoldRequest(Input):
    # Any identifier the genealogy holds: a station's result records scanned text trimmed, inner spaces kept
    # (e.g. "CYL 2026/07"), up to 64 characters. Control characters name no scanned part.
    identifier: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"),
    ] = Field(
        description="Component serial, lot, furnace run or cylinder lot, as recorded: 1 to 64 characters of "
        "printable text (inner spaces allowed; surrounding whitespace is trimmed; no control characters)"
    )
    kind: ComponentKind | None = Field(default=None, description="Restrict to one kind of component")
    reason: Reason


class LotHoldOut(BaseModel):
    lot_hold_id: int | None = Field(
        description="The lot hold the holds belong to, released whole with POST /api/v1/lot-holds/{lot_hold_id}"
        "/release; null when every unit found was scrapped (nothing was held)"
    )
    identifier: str
    kind: str | None
    held: list[HoldOut]
    skipped_scrapped: list[str]


class LotHoldReleaseOut(BaseModel):
    """Every hold of a lot hold still active, released with one disposition under one e-signature."""

    lot_hold_id: int
    identifier: str
    kind: str | None
    disposition: str
    released: list[HoldOut] = Field(description="The holds this release released, each with the one signature")
    already_released: list[HoldOut] = Field(
        description="Holds of the lot hold released before (one by one, or closed when their unit was scrapped), "
        "left as they were"
    )
    still_on_hold: list[str] = Field(
        description="Serials released from this lot hold that another hold still keeps on hold"
    )
    signature: SignatureOut


class ReleaseRequest(Input):
    disposition: Literal["rework", "scrap", "use_as_is"]
    reason: Reason
    signature: SignatureIn
    reenter_at: Name | None = Field(
        default=None,
        description="For rework: the station type where the unit re-enters its route, or `repair` (then say "
        "where it re-enters after the repair with `then_reenter_at`). Omitted: the unit continues its pending "
        "rework path (its repair first when one is pending, then its re-entry step). It may go back, but not "
        "past the first step it has not passed.",
        examples=["vacuum_dehydration", "repair"],
    )
    then_reenter_at: Name | None = Field(
        default=None,
        description="For a rework through repair: the station type where the unit re-enters its route after the "
        "repair, e.g. a run-in FAIL diagnosed as a leak: reenter_at=repair, then_reenter_at=vacuum_dehydration. "
        "Omitted: where its pending repair would send it (the route's rework rule).",
        examples=["vacuum_dehydration"],
    )


# --- work orders ------------------------------------------------------------------------------


class WorkOrderIn(Input):
    number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    product_model: Annotated[str, StringConstraints(max_length=64)]
    first_serial: SerialText
    quantity: Annotated[int, Field(ge=1, le=100_000)]


class WorkOrderOut(BaseModel):
    number: str
    product_model: str
    quantity: int
    first_serial: str
    last_serial: str
    created_at: datetime


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, object]] | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route can answer."""
    words = {
        404: "Unknown station, serial or record",
        409: "Refused: the detail says why in plant words",
        413: "Payload too large",
        422: "Malformed input",
    }
    return {code: {"model": Problem, "description": words.get(code, "Problem")} for code in codes}
