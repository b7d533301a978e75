"""The MES behind the OPC UA adapter: the same services as REST, with the contract's differences.

- A request answers Release/Reason/Recipe from the route interlock (the same start service).
- A result is stored and judged in one transaction; only after the commit does the adapter write
  the Verdict and then the Ack. A result without a release is stored as a FAIL with an alarm, not
  refused, because a PLC's result must never be lost; one whose serial names no unit at all is kept
  whole as an orphan result, FAIL, with an alarm.
- Database work runs in worker threads so the adapter's event loop keeps serving other stations.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import math
from array import array
from collections.abc import Callable
from datetime import datetime

from anyio import CapacityLimiter, to_thread
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import stations
from app.domain.errors import DomainError, InvalidInput, UnknownSerial
from app.domain.results import Measurement, StationResult, Trace, Verdict
from app.domain.routing import AttemptStatus
from app.domain.serials import SerialFormat
from app.opcua import codec
from app.opcua.backend import PlcResult, PlcValue, ReleaseAnswer, StoredVerdict
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import operations, specs
from app.services.clock import utcnow

log = logging.getLogger("app.plc")
DEFAULT_MAX_THREADS = 6
"""Handshakes stored at once. A burst of results (stations finishing together) is served first come,
first served by a few threads rather than by dozens sharing the interpreter lock and the CPU, so the
first of them are answered early instead of all of them late; six keep the database busy."""


def _refusal(exc: DomainError) -> ReleaseAnswer:
    return ReleaseAnswer(release=False, reason=codec.fit_utf8(exc.detail, codec.REASON_MAX_BYTES), recipe="")


class DatabaseStationBackend:
    """Implements :class:`app.opcua.backend.StationBackend` over the database services."""

    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        serial_format: SerialFormat,
        judge: operations.Judge,
        max_threads: int = DEFAULT_MAX_THREADS,
    ) -> None:
        self._sessions = session_factory
        self._threads = CapacityLimiter(max_threads)
        self._serial_format = serial_format
        self._judge = judge
        self._station_types: dict[str, str] = {}  # station id -> type of its last stored result

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        return await to_thread.run_sync(self._request, station_id, serial, limiter=self._threads)

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        return await to_thread.run_sync(self._result, station_id, result, limiter=self._threads)

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        await to_thread.run_sync(self._alarm, station_id, message, limiter=self._threads)

    def _request(self, station_id: str, serial: str) -> ReleaseAnswer:
        try:
            with self._sessions() as session, session.begin():
                try:
                    outcome = operations.start_operation(
                        session=session,
                        serial_format=self._serial_format,
                        station_id=station_id,
                        serial=serial,
                        operator=None,
                        origin="plc",
                    )
                except operations.RefusedAfterAbort as refused:
                    # the unit that was in the station left it: leaving the block commits its abort
                    return _refusal(refused)
                spec = specs.effective_spec(
                    session,
                    station_type=outcome.attempt.station_type,
                    product_model_id=outcome.unit.product_model_id,
                    at=outcome.attempt.started_at,
                )
                recipe = f"{outcome.unit.product_model_code}/{spec.revision_id}" if spec is not None else ""
                if spec is None:
                    # nothing may run without an approved specification
                    refusal = DomainError(
                        f"no approved specification for {outcome.attempt.station_type} on "
                        f"{outcome.unit.product_model_code}; a quality engineer must approve one"
                    )
                elif codec.utf8_length(recipe) > codec.RECIPE_MAX_BYTES:
                    # cut short it would key the station's recipe store to another model or revision
                    refusal = DomainError(
                        f"recipe {recipe} is longer than the {codec.RECIPE_MAX_BYTES} bytes a PLC holds; "
                        "the product model code must be shortened"
                    )
                else:
                    refusal = None
                if refusal is not None:
                    if not outcome.aborted_serials:
                        raise refusal  # rolls the start back: nothing else was written
                    # the unit that was in the station left it: its abort outlasts this refusal, the
                    # attempt just opened for the refused unit does not
                    if not outcome.resumed:
                        session.execute(delete(m.OperationAttempt).where(m.OperationAttempt.id == outcome.attempt.id))
                    return _refusal(refusal)
        except DomainError as exc:
            return _refusal(exc)
        return ReleaseAnswer(release=True, reason="", recipe=recipe)

    def _result(self, station_id: str, result: PlcResult) -> StoredVerdict:
        # The station's type gives the measurements their units. Asking the database for it costs a
        # round trip per result, so the type last seen at this station is assumed and checked against
        # the attempt's in the same transaction; a station whose type changed is stored once more.
        assumed = self._station_types.get(station_id)
        sent_id = result.result_id
        without_id = not sent_id
        if without_id:  # empty or unreadable: a key from the content still recognises a second read
            result = dataclasses.replace(result, result_id=content_key(result, anchor=None))
        elif codec.utf8_length(sent_id) > RESULT_KEY_MAX_BYTES:
            result = dataclasses.replace(result, result_id=long_id_key(sent_id))
        try:
            self._serial_format.validate(result.serial)
            try:
                return self._store_result(station_id, result, assumed, sent_id=sent_id)
            except _StationTypeChanged as changed:
                return self._store_result(station_id, result, changed.station_type, sent_id=sent_id)
            except _StoredAsOrphan:  # read again after its serial was released: stored once, as the orphan
                return StoredVerdict(verdict=Verdict.FAIL, duplicate=True)
        except (InvalidInput, UnknownSerial) as no_unit:  # nothing of the unit's was written: rolled back
            return self._store_orphan(station_id, result, no_unit.detail, sent_id=sent_id)

    def _store_result(
        self, station_id: str, result: PlcResult, station_type: str | None, *, sent_id: str
    ) -> StoredVerdict:
        with self._sessions() as session, session.begin():
            if not sent_id:
                result = dataclasses.replace(result, result_id=_keyless_result_key(session, station_id, result))
            assumed = station_type is not None
            if station_type is None:
                station_type = repo.station_type_of(session, station_id)
            units = _measurement_units(station_type)
            measurements = tuple(
                Measurement(name, value.value, units.get(name)) for name, value in result.values.items()
            )
            completion = operations.Completion(
                serial=result.serial,
                result_key=result.result_id,
                result=StationResult(
                    measurements=measurements,
                    traces=tuple(Trace(ch, t, v) for ch, (t, v) in result.traces.items()),
                ),
                value_status=result.statuses(),
            )
            outcome = operations.complete_operation(
                session=session,
                serial_format=self._serial_format,
                station_id=station_id,
                completion=completion,
                origin="plc",
                judge=self._judge,
                store_without_release=True,
            )
            judged_as = outcome.attempt.station_type
            if assumed and not outcome.duplicate and judged_as != station_type:
                raise _StationTypeChanged(judged_as)  # rolls back: nothing of this try is kept
            self._station_types[station_id] = judged_as
            unreleased = bool(outcome.checks) and outcome.checks[0].rule == operations.RELEASE_RULE
            if unreleased and not outcome.duplicate and _orphan_stored(session, station_id, result.result_id):
                raise _StoredAsOrphan  # rolls back: the unreleased attempt is not kept
            assert outcome.attempt.verdict is not None  # a completed attempt always has one
            verdict = Verdict(outcome.attempt.verdict)
            if outcome.attempt.alarm and not outcome.duplicate:
                session.add(m.StationAlarm(station_id=station_id, message=outcome.attempt.alarm, raised_at=utcnow()))
            key_alarm = _key_alarm(sent_id, result)
            if key_alarm and not outcome.duplicate:
                session.add(m.StationAlarm(station_id=station_id, message=key_alarm, raised_at=utcnow()))
        return StoredVerdict(verdict=verdict, duplicate=outcome.duplicate)

    def _store_orphan(self, station_id: str, result: PlcResult, reason: str, *, sent_id: str) -> StoredVerdict:
        """A result whose serial names no unit: kept whole, FAIL, with an alarm (once per Result.Id).

        Already stored with a unit (its serial was valid when first read, and the plant's serial
        format changed before the lost Ack's second read), it is answered with that verdict."""
        key = result.result_id
        with self._sessions() as session, session.begin():
            if _orphan_stored(session, station_id, key):
                return StoredVerdict(verdict=Verdict.FAIL, duplicate=True)
            with_unit = session.scalar(
                select(m.OperationAttempt.verdict).where(
                    m.OperationAttempt.station_id == station_id, m.OperationAttempt.result_key == key
                )
            )
            if with_unit is not None:
                return StoredVerdict(verdict=Verdict(with_unit), duplicate=True)
            now = utcnow()
            orphan = m.OrphanResult(
                station_id=station_id,
                result_key=key,
                serial=result.serial,
                reason=reason,
                received_at=now,
                result_values={name: _json_value(v) for name, v in result.values.items()},
                traces=_json_traces(result),
            )
            session.add(orphan)
            session.flush()
            message = (
                f"result {result.result_id}: {reason}; kept as orphan result {orphan.id} "
                "(GET /api/v1/line/orphan-results) and judged FAIL"
            )
            log.warning("station %s: %s", station_id, message)
            session.add(m.StationAlarm(station_id=station_id, message=message, raised_at=now))
            key_alarm = _key_alarm(sent_id, result)
            if key_alarm:
                session.add(m.StationAlarm(station_id=station_id, message=key_alarm, raised_at=now))
        return StoredVerdict(verdict=Verdict.FAIL, duplicate=False)

    def _alarm(self, station_id: str, message: str) -> None:
        log.warning("station %s: %s", station_id, message)
        with self._sessions() as session, session.begin():
            session.add(m.StationAlarm(station_id=station_id, message=message, raised_at=utcnow()))


class _StoredAsOrphan(Exception):
    """The result was stored as an orphan when its serial named no unit (read again: not stored twice)."""


def _orphan_stored(session: Session, station_id: str, key: str) -> bool:
    return (
        session.scalar(
            select(m.OrphanResult.id).where(m.OrphanResult.station_id == station_id, m.OrphanResult.result_key == key)
        )
        is not None
    )


RESULT_KEY_MAX_BYTES = 1024
"""A Result.Id longer than this (the contract allows 64 bytes) is keyed by its digest: PostgreSQL's
unique index on (station, key) refuses an entry over about 2.7 kB, so such a result could never be
committed or acknowledged and the station would stand still re-offering it."""


def long_id_key(result_id: str) -> str:
    """The stored key of an over-long Result.Id: the same Id read again gives the same key."""
    digest = hashlib.sha256(result_id.encode("utf-8", errors="surrogateescape")).hexdigest()
    return f"long-id-sha256-{digest[:40]}"


def _key_alarm(sent_id: str, result: PlcResult) -> str | None:
    """What to tell the station when a result's stored key is not the Result.Id it came with."""
    if not sent_id:
        return (
            f"result for {result.serial} came without a Result.Id: stored as {result.result_id}, a key made "
            "from its content so that reading it again is recognised; the PLC must write a unique Result.Id"
        )
    if sent_id != result.result_id:
        return (
            f"result for {result.serial} came with a Result.Id of {codec.utf8_length(sent_id):,} bytes, beginning "
            f"'{codec.fit_utf8(sent_id, 64)}' (the contract allows 64): stored as {result.result_id}, from its "
            "SHA-256, so that reading it again is recognised; the PLC must write a Result.Id of at most 64 bytes"
        )
    return None


class _StationTypeChanged(Exception):
    """The station's type is not the one assumed for its result's units (master data changed)."""

    def __init__(self, station_type: str) -> None:
        super().__init__(station_type)
        self.station_type = station_type


def content_key(result: PlcResult, *, anchor: int | None) -> str:
    """A key for a result that came without a Result.Id: a digest of everything it holds and of the
    attempt it completes (``anchor``), so the same result set read twice (an Ack lost) gets the same
    key, and a retest that measures exactly the same again (a scale reading the same gram) does not."""
    digest = hashlib.sha256(f"{anchor}\x00{result.serial}".encode())
    for name in sorted(result.values):
        value = result.values[name]
        digest.update(f"\x00v\x00{name}\x00{value.value!r}\x00{value.quality}".encode())
    for channel in sorted(result.traces):
        t_s, samples = result.traces[channel]
        digest.update(f"\x00t\x00{channel}\x00{len(t_s)}\x00".encode())
        digest.update(array("d", t_s).tobytes() + array("d", samples).tobytes())
    for channel in sorted(result.trace_status):
        digest.update(f"\x00s\x00{channel}\x00{result.trace_status[channel]}".encode())
    return f"no-id-sha256-{digest.hexdigest()[:40]}"


def _keyless_result_key(session: Session, station_id: str, result: PlcResult) -> str:
    """The key of a result without a Result.Id, from the unit's latest attempt at this station: an open
    one is the attempt this result completes (its id goes into the key); a closed one whose key is this
    content's means the result is being read again; otherwise the result has no release here."""
    attempt = m.OperationAttempt
    latest = session.execute(
        select(attempt.id, attempt.status, attempt.result_key)
        .join(m.Unit, m.Unit.id == attempt.unit_id)
        .where(m.Unit.serial == result.serial, attempt.station_id == station_id)
        .order_by(attempt.id.desc())
        .limit(1)
    ).one_or_none()
    unreleased = content_key(result, anchor=None)
    if latest is None:
        return unreleased
    if latest.status == AttemptStatus.OPEN.value:
        return content_key(result, anchor=latest.id)
    if latest.result_key in (content_key(result, anchor=latest.id), unreleased):
        return str(latest.result_key)
    return unreleased


def _json_value(value: PlcValue) -> dict[str, object]:
    shown = value.value
    if isinstance(shown, datetime):
        shown = shown.isoformat()
    elif isinstance(shown, float) and not math.isfinite(shown):
        shown = str(shown)  # "inf", "-inf": JSON has no such number, and PostgreSQL refuses the token
    return {"value": shown, "quality": value.quality}


def _json_traces(result: PlcResult) -> dict[str, dict[str, object]]:
    def finite(samples: tuple[float, ...]) -> list[float | None]:
        return [s if math.isfinite(s) else None for s in samples]  # JSON has no NaN

    channels = set(result.traces) | set(result.trace_status)
    return {
        ch: {
            "t_s": finite(result.traces[ch][0]) if ch in result.traces else [],
            "values": finite(result.traces[ch][1]) if ch in result.traces else [],
            "quality": result.trace_status.get(ch, "good"),
        }
        for ch in sorted(channels)
    }


@functools.cache
def _measurement_units(station_type: str) -> dict[str, str | None]:
    """Measurement name -> unit of a station type's contract; raises for an unknown type."""
    return {schema.name: schema.unit for schema in stations.get_station_type(station_type).measurements}
