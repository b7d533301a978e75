"""ORM models. The schema itself is owned by the alembic revisions in migrations/.

Designed for tens of millions of measurement rows: measurements, check results and traces are
keyed by (attempt_id, name) so the birth record reads them with one index range scan per attempt
list; traces are stored as compressed float64 blobs, one row per channel, with a summary beside
the blob so listing never loads samples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

# SQLite only autoincrements INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on every backend (SQLite stores no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; the MES stores UTC instants only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class ProductModel(Base):
    __tablename__ = "product_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    construction: Mapped[str] = mapped_column(String(32))
    refrigerant: Mapped[str] = mapped_column(String(16))
    gwp: Mapped[int] = mapped_column(Integer)
    nominal_charge_g: Mapped[float | None] = mapped_column(Float)
    charge_tolerance_g: Mapped[float | None] = mapped_column(Float)
    evi: Mapped[bool] = mapped_column(Boolean)
    internal_volume_l: Mapped[float] = mapped_column(Float)
    max_allowable_pressure_bar_g: Mapped[float] = mapped_column(Float)
    market: Mapped[str] = mapped_column(String(32))
    route_id: Mapped[int] = mapped_column(ForeignKey("route.id"))
    heating_a7w35_kw: Mapped[float] = mapped_column(Float)
    cop_a7w35: Mapped[float] = mapped_column(Float)
    heating_am7w35_kw: Mapped[float] = mapped_column(Float)
    cop_am7w35: Mapped[float] = mapped_column(Float)
    cooling_a35w7_kw: Mapped[float] = mapped_column(Float)
    eer_a35w7: Mapped[float] = mapped_column(Float)
    bom_compressor_model: Mapped[str] = mapped_column(String(64))
    bom_inverter_model: Mapped[str] = mapped_column(String(64))
    bom_evi_valve_model: Mapped[str | None] = mapped_column(String(64))
    # Cycle-model product data (rating speeds, compressor displacement, EVI design data); see master_data.
    cycle_physics: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Route(Base):
    __tablename__ = "route"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rework_loop_cap: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class RouteStep(Base):
    __tablename__ = "route_step"

    route_id: Mapped[int] = mapped_column(ForeignKey("route.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_type: Mapped[str] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean, default=True)


class ReworkRule(Base):
    __tablename__ = "rework_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("route.id", ondelete="CASCADE"), index=True)
    failed_at: Mapped[str] = mapped_column(String(64))
    failure_mode: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    reenter_at: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    # False: a repeat of a test that was not valid, which reworks nothing (revision 0017)
    counts_as_rework_loop: Mapped[bool] = mapped_column(Boolean, default=True)


class MarketRule(Base):
    __tablename__ = "market_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(32))
    refrigerant: Mapped[str] = mapped_column(String(16))
    construction: Mapped[str] = mapped_column(String(32))
    max_charge_g: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)


class Station(Base):
    __tablename__ = "station"

    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_type: Mapped[str] = mapped_column(String(64))
    line_code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    opcua_endpoint: Mapped[str | None] = mapped_column(String(255))


class WorkOrder(Base):
    __tablename__ = "work_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_model.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    first_serial: Mapped[str] = mapped_column(String(32))
    last_serial: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Unit(Base):
    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"))
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_model.id"))
    status: Mapped[str] = mapped_column(String(16))
    next_step: Mapped[str | None] = mapped_column(String(64))
    reentry_step: Mapped[str | None] = mapped_column(String(64))
    rework_loops: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OperationAttempt(Base):
    __tablename__ = "operation_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    station_id: Mapped[str] = mapped_column(ForeignKey("station.station_id"))
    station_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str | None] = mapped_column(String(8))
    retest_index: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by: Mapped[str | None] = mapped_column(String(64))
    completed_by: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))
    result_key: Mapped[str | None] = mapped_column(Text)  # a PLC's Result.Id whole (migration 0011)
    failure_mode: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    alarm: Mapped[str | None] = mapped_column(Text)
    instruction: Mapped[str | None] = mapped_column(Text)
    spec_revision_id: Mapped[int | None] = mapped_column(Integer)
    model_version: Mapped[str | None] = mapped_column(String(128))
    rules_version: Mapped[str | None] = mapped_column(String(32))  # app.rules.RULES_VERSION (migration 0014)
    use_as_is: Mapped[bool] = mapped_column(Boolean, default=False)


class Measurement(Base):
    __tablename__ = "measurement"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)  # whole, however long a PLC's string (migration 0009)
    kind: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(16))
    quality: Mapped[str | None] = mapped_column(String(10))  # OPC UA status: None Good, uncertain, bad (0012)


class TraceRow(Base):
    __tablename__ = "trace"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    n_samples: Mapped[int] = mapped_column(Integer)
    t_start_s: Mapped[float | None] = mapped_column(Float)
    t_end_s: Mapped[float | None] = mapped_column(Float)
    value_min: Mapped[float | None] = mapped_column(Float)
    value_max: Mapped[float | None] = mapped_column(Float)
    value_first: Mapped[float | None] = mapped_column(Float)
    value_last: Mapped[float | None] = mapped_column(Float)
    encoding: Mapped[str] = mapped_column(String(16))
    t_blob: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    value_blob: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    quality: Mapped[str | None] = mapped_column(String(10))  # OPC UA status: None Good, uncertain, bad (0012)


class ComponentUse(Base):
    """A part, lot or run a unit consumed on an attempt: the unit's genealogy."""

    __tablename__ = "component_use"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(32))
    consumed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # a part taken out again (replaced at the repair bench) stays in the record, marked removed by the
    # attempt that removed it (migration 0015); NULL while it is in the unit
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("operation_attempt.id"))


class CheckResultRow(Base):
    __tablename__ = "check_result"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    measured: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    limit_low: Mapped[float | None] = mapped_column(Float)
    limit_high: Mapped[float | None] = mapped_column(Float)
    uncertainty: Mapped[float | None] = mapped_column(Float)
    failure_mode: Mapped[str | None] = mapped_column(String(64))
    # the check's place in its verdict (0, 1, …); None for checks stored before migration 0008
    position: Mapped[int | None] = mapped_column(SmallInteger)


class Hold(Base):
    __tablename__ = "hold"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    reason: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))  # unit | component | verdict
    scope_ref: Mapped[str | None] = mapped_column(String(128))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("operation_attempt.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(16))
    release_reason: Mapped[str | None] = mapped_column(Text)
    release_signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))
    # the lot hold this hold was placed by (migration 0019); None for a unit's own hold, a verdict's, and
    # every hold placed before lot holds were recorded
    lot_hold_id: Mapped[int | None] = mapped_column(ForeignKey("lot_hold.id"))


class LotHold(Base):
    """One hold-by-component request: every unit that consumed ``identifier`` held at once, released at once."""

    __tablename__ = "lot_hold"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64))  # as typed (the units are found whatever its case)
    kind: Mapped[str | None] = mapped_column(String(16))  # None: any kind of component
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64))


class SpecRevision(Base):
    """Limits for one (station type x product model); immutable once approved (database triggers)."""

    __tablename__ = "spec_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_type: Mapped[str] = mapped_column(String(64))
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_model.id"))
    status: Mapped[str] = mapped_column(String(16))
    overrides: Mapped[str] = mapped_column(Text)
    document: Mapped[str | None] = mapped_column(Text)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("spec_revision.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approval_reason: Mapped[str | None] = mapped_column(Text)
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approval_signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))


class VerdictOverride(Base):
    """A person's decision beside the engine's verdict (the engine's stays recorded on the attempt)."""

    __tablename__ = "verdict_override"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"))
    engine_verdict: Mapped[str] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))


class ManualCheck(Base):
    """A check made by a person (e.g. a visual inspection) and recorded on an attempt."""

    __tablename__ = "manual_check"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("operation_attempt.id"))
    name: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StationAlarm(Base):
    """An alarm on a station, as raised (the OPC UA adapter latches repeats of the same alarm)."""

    __tablename__ = "station_alarm"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrphanResult(Base):
    """A PLC's result whose serial names no unit, kept whole: judged FAIL, alarmed and acknowledged so
    the station is not blocked (the contract never lets a result be lost). ``result_values``: name ->
    {"value", "quality"} (datetimes as ISO 8601, not measured as null, an infinite number as the text
    "inf" or "-inf"); ``traces``: channel -> {"t_s", "values", "quality"} (a non-finite sample as null)."""

    __tablename__ = "orphan_result"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    result_key: Mapped[str] = mapped_column(Text)  # Result.Id, or the content key when it came without one
    serial: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    result_values: Mapped[dict[str, Any]] = mapped_column(JSON)
    traces: Mapped[dict[str, Any]] = mapped_column(JSON)


class AppUser(Base):
    """A person (or a station's service account) who signs in. Secrets are argon2 hashes."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(Text)
    badge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ServiceAccountStation(Base):
    """A station a service account (role ``station``) acts for; an account bound to none acts nowhere."""

    __tablename__ = "service_account_station"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("station.station_id"), primary_key=True)


class AuthToken(Base):
    """A page session or an API bearer token; only its SHA-256 is stored, and it can be revoked."""

    __tablename__ = "auth_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "session" | "api"
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ESignature(Base):
    """An electronic signature: the signer re-entered their secret and gave a reason (append-only)."""

    __tablename__ = "e_signature"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    meaning: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))


class AuditEvent(Base):
    """One change, who made it and why, hash-chained to the event before it (append-only)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's one-row head: the last event's number and hash (appends lock this row first)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigId)
    hash: Mapped[str] = mapped_column(String(64))


class CycleParameterSet(Base):
    """One fitted cycle-model parameter set of a product model; versions 1, 2, 3 … per model, the highest is current.

    Rows are never changed: a refit adds a version. ``rating_data`` is what the set was fitted to and
    ``rating_fit`` how closely it reproduces it; ``out_of_bounds`` names parameters outside their bounds.
    """

    __tablename__ = "cycle_parameter_set"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_model.id"))
    version: Mapped[int] = mapped_column(Integer)
    parameter_set_id: Mapped[str] = mapped_column(String(96))  # '<model>@<hash of the numbers>'
    code_version: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    rating_data: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rating_fit: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    max_rating_error: Mapped[float] = mapped_column(Float)
    within_bounds: Mapped[bool] = mapped_column(Boolean)
    out_of_bounds: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(128))
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
