"""The MES behind the OPC UA adapter: the same services as REST, with the contract's differences.

- A request answers Release/Reason/Recipe from the route interlock (the same start service).
- A result is stored and judged in one transaction; only after the commit does the adapter write
  the Verdict and then the Ack. A result without a release is stored as a FAIL with an alarm, not
  refused, because a PLC's result must never be lost.
- Database work runs in worker threads so the adapter's event loop keeps serving other stations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from anyio import to_thread
from sqlalchemy.orm import Session

import stations
from app.domain.errors import DomainError
from app.domain.results import Measurement, StationResult, Trace, Verdict
from app.domain.serials import SerialFormat
from app.opcua.backend import PlcResult, ReleaseAnswer, StoredVerdict
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import operations, specs
from app.services.clock import utcnow

log = logging.getLogger("app.plc")
REASON_MAX = 254
RECIPE_MAX = 64


class DatabaseStationBackend:
    """Implements :class:`app.opcua.backend.StationBackend` over the database services."""

    def __init__(
        self, *, session_factory: Callable[[], Session], serial_format: SerialFormat, judge: operations.Judge
    ) -> None:
        self._sessions = session_factory
        self._serial_format = serial_format
        self._judge = judge

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        return await to_thread.run_sync(self._request, station_id, serial)

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        return await to_thread.run_sync(self._result, station_id, result)

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        await to_thread.run_sync(self._alarm, station_id, message)

    def _request(self, station_id: str, serial: str) -> ReleaseAnswer:
        try:
            with self._sessions() as session, session.begin():
                outcome = operations.start_operation(
                    session=session,
                    serial_format=self._serial_format,
                    station_id=station_id,
                    serial=serial,
                    operator=None,
                    origin="plc",
                )
                spec = specs.effective_spec(
                    session,
                    station_type=outcome.attempt.station_type,
                    product_model_id=outcome.unit.product_model_id,
                    at=outcome.attempt.started_at,
                )
                if spec is None:
                    # refusing rolls the start back: nothing may run without an approved specification
                    raise DomainError(
                        f"no approved specification for {outcome.attempt.station_type} on "
                        f"{outcome.unit.product_model_code}; a quality engineer must approve one"
                    )
                recipe = f"{outcome.unit.product_model_code}/{spec.revision_id}"
        except DomainError as exc:
            return ReleaseAnswer(release=False, reason=_fit(exc.detail, REASON_MAX), recipe="")
        return ReleaseAnswer(release=True, reason="", recipe=_fit(recipe, RECIPE_MAX))

    def _result(self, station_id: str, result: PlcResult) -> StoredVerdict:
        with self._sessions() as session, session.begin():
            declared = stations.get_station_type(repo.station_type_of(session, station_id))
            measurements = tuple(
                Measurement(
                    name,
                    value.value,
                    (schema.unit if declared and (schema := declared.measurement(name)) else None),
                )
                for name, value in result.values.items()
            )
            completion = operations.Completion(
                serial=result.serial,
                result_key=result.result_id,
                result=StationResult(
                    measurements=measurements,
                    traces=tuple(Trace(ch, t, v) for ch, (t, v) in result.traces.items()),
                ),
                value_status={n: v.quality for n, v in result.values.items() if v.quality != "good"},
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
            assert outcome.attempt.verdict is not None  # a completed attempt always has one
            verdict = Verdict(outcome.attempt.verdict)
            if outcome.attempt.alarm and not outcome.duplicate:
                session.add(m.StationAlarm(station_id=station_id, message=outcome.attempt.alarm, raised_at=utcnow()))
        return StoredVerdict(verdict=verdict, duplicate=outcome.duplicate)

    def _alarm(self, station_id: str, message: str) -> None:
        log.warning("station %s: %s", station_id, message)
        with self._sessions() as session, session.begin():
            session.add(m.StationAlarm(station_id=station_id, message=message, raised_at=utcnow()))


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
