"""The counter handshakes of one station (plc-interface.md): request → release, result → verdict → Ack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from asyncua import ua

from app.opcua import codec
from app.opcua.backend import PlcResult, PlcValue, Quality, ReleaseAnswer, StationBackend
from app.opcua.link import UaLink
from app.opcua.master_data import StationEndpoint
from app.opcua.nodes import StationNodes
from app.opcua.station_types import StationTypeSpec
from app.opcua.status import HandshakeEvent, StatusBoard, now_utc

logger = logging.getLogger(__name__)


class StationHandshakes:
    """Serves the request and result handshakes of one station over one connected session.

    Every step re-reads what it acts on, so it is idempotent: notifications and the periodic
    reconciliation only *kick* the two workers, which then decide from what they read.
    """

    def __init__(
        self,
        *,
        endpoint: StationEndpoint,
        spec: StationTypeSpec | None,
        nodes: StationNodes,
        link: UaLink,
        backend: StationBackend,
        board: StatusBoard,
        alarms: AlarmLatch,
    ) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.nodes = nodes
        self._link = link
        self._backend = backend
        self._board = board
        self._alarms = alarms
        self._request_kick = asyncio.Event()
        self._result_kick = asyncio.Event()
        self.identification_problem: str | None = "not checked yet"
        self.boot_id: str | None = None

    @property
    def station_id(self) -> str:
        return self.endpoint.station_id

    # --- identification ---------------------------------------------------------------

    async def check_identification(self) -> bool:
        """Compare ``Identification.*`` with the master data; a mismatch alarms and blocks release."""
        n = self.nodes
        type_dv, version_dv, boot_dv = await self._link.read([n.station_type_code, n.interface_version, n.boot_id])
        plc_type, plc_version = codec.read_str(type_dv), codec.raw_value(version_dv)
        self.boot_id = codec.read_str(boot_dv)
        problem = None
        if self.spec is None:
            problem = f"station type '{self.endpoint.station_type}' of the master data is not a registered type"
        elif plc_type != self.endpoint.station_type or plc_version != self.endpoint.interface_version:
            problem = (
                f"PLC identifies as '{plc_type}' interface version {plc_version}, master data expects "
                f"'{self.endpoint.station_type}' version {self.endpoint.interface_version}: no release"
            )
        self.identification_problem = problem
        self._board.update(station_id=self.station_id, identification_ok=problem is None, boot_id=self.boot_id)
        if problem is not None:
            await self._alarms.raise_once(station_id=self.station_id, key="identification", message=problem)
        else:
            self._alarms.clear(station_id=self.station_id, key="identification")
        return problem is None

    async def note_boot_id(self, boot_id: str) -> None:
        """A BootId seen in a notification or read: a new one means forget counters, recheck, reconcile."""
        if self.boot_id is not None and boot_id == self.boot_id:
            return
        if self.boot_id is not None:
            logger.info("station %s restarted (BootId %s -> %s)", self.station_id, self.boot_id, boot_id)
        self.boot_id = boot_id
        self._board.update(station_id=self.station_id, boot_id=boot_id)
        await self.check_identification()
        self.kick_request()
        self.kick_result()

    # --- reconciliation ---------------------------------------------------------------

    def kick_request(self) -> None:
        self._request_kick.set()

    def kick_result(self) -> None:
        self._result_kick.set()

    async def reconcile(self, counters: Sequence[ua.DataValue]) -> None:
        """Apply one read of ``nodes.counters``: note the BootId and kick whatever is pending."""
        request, response, result, ack = (codec.read_uint(dv) for dv in counters[:4])
        self._board.update(
            station_id=self.station_id,
            request_counter=request,
            response_counter=response,
            result_counter=result,
            result_ack=ack,
        )
        await self.note_boot_id(codec.read_str(counters[4]))
        if codec.is_pending(counter=request, answered=response):
            self.kick_request()
        if codec.is_pending(counter=result, answered=ack):
            self.kick_result()

    # --- workers ------------------------------------------------------------------------

    async def request_worker(self) -> None:
        """Serve requests whenever kicked; link failures propagate and end the session."""
        while True:
            await self._request_kick.wait()
            self._request_kick.clear()
            await self.serve_request()

    async def result_worker(self) -> None:
        """Serve results whenever kicked; link failures propagate and end the session."""
        while True:
            await self._result_kick.wait()
            self._result_kick.clear()
            await self.serve_result()

    async def serve_request(self) -> None:
        """Answer a pending request: Release/Reason/Recipe in one Write, then Response.Counter in its own."""
        n = self.nodes
        counter_dv, answered_dv, serial_dv, boot_dv = await self._link.read(
            [n.request_counter, n.response_counter, n.request_serial, n.boot_id]
        )
        await self.note_boot_id(codec.read_str(boot_dv))
        counter, answered = codec.read_uint(counter_dv), codec.read_uint(answered_dv)
        self._board.update(station_id=self.station_id, request_counter=counter, response_counter=answered)
        if not codec.is_pending(counter=counter, answered=answered):
            return
        serial, boot_id = codec.read_str(serial_dv), codec.read_str(boot_dv)
        if self.identification_problem is not None:
            answer = ReleaseAnswer(release=False, reason=f"MES: {self.identification_problem}", recipe="")
        else:
            try:
                answer = await self._backend.handle_request(station_id=self.station_id, serial=serial)
            except Exception as exc:  # the MES cannot decide: no answer, the PLC times out and may ask again
                logger.exception("request %s at %s: backend failed", counter, self.station_id)
                await self._alarms.raise_once(
                    station_id=self.station_id, key="request", message=f"MES could not answer request: {exc}"
                )
                return
            self._alarms.clear(station_id=self.station_id, key="request")
        if answer.release and codec.utf8_length(answer.recipe) > codec.RECIPE_MAX_BYTES:
            # a recipe cut short would key the PLC's recipe store to another model or revision
            answer = ReleaseAnswer(
                release=False,
                reason=f"MES: recipe {answer.recipe} is longer than the {codec.RECIPE_MAX_BYTES} bytes the PLC "
                "holds: not released",
                recipe="",
            )
        if not await self._request_still_stands(counter=counter, serial=serial, boot_id=boot_id):
            return
        await self._link.write(
            [
                (n.response_release, codec.boolean(answer.release)),
                (
                    n.response_reason,
                    codec.string("" if answer.release else codec.fit_utf8(answer.reason, codec.REASON_MAX_BYTES)),
                ),
                (n.response_recipe, codec.string(answer.recipe if answer.release else "")),
            ]
        )
        await self._link.write([(n.response_counter, codec.uint32(counter))])
        outcome = "released" if answer.release else f"refused: {answer.reason}"
        self._board.update(
            station_id=self.station_id,
            response_counter=counter,
            last_request=HandshakeEvent(counter=counter, serial=serial, outcome=outcome, at=now_utc()),
        )

    async def _request_still_stands(self, *, counter: int, serial: str, boot_id: str) -> bool:
        """Re-read the request just before answering it: deciding may take a while (a slow database),
        and a PLC that restarted meanwhile starts its counters from 0 again, so its new request can
        carry the very counter value being answered. An answer meant for another BootId, counter or
        serial is dropped (the PLC never sees it) and whatever is pending now is served afresh. What
        remains is the window of one round trip between this Read and the Writes (a restart and a new
        request inside it); closing that needs the PLC's help, which the contract does not ask."""
        n = self.nodes
        return await self._still_stands(
            (n.request_counter, n.request_serial), (counter, serial, boot_id), "request", self.kick_request
        )

    async def _still_stands(
        self, nodes: tuple[ua.NodeId, ua.NodeId], seen: tuple[int, str, str], what: str, kick: Callable[[], None]
    ) -> bool:
        """Read ``nodes`` (a counter and the text that names what it counts) and the BootId again: True when
        they still read ``seen``; otherwise note the BootId, ``kick`` the pending work and say so."""
        counter_dv, text_dv, boot_dv = await self._link.read([*nodes, self.nodes.boot_id])
        now = (codec.read_uint(counter_dv), codec.read_str(text_dv), codec.read_str(boot_dv))
        if now == seen:
            return True
        logger.info(
            "station %s: %s %s (%s, BootId %s) changed to %s (%s, BootId %s) before it was answered; answer dropped",
            self.station_id,
            what,
            *seen,
            *now,
        )
        await self.note_boot_id(now[2])
        kick()
        return False

    async def serve_result(self) -> None:
        """Read a pending result set, have it stored and judged, then write Verdict and, on its own, Ack."""
        spec = self.spec
        if spec is None or self.identification_problem is not None:
            return  # never acknowledge what cannot be interpreted; the alarm is already raised
        n = self.nodes
        # the whole set in one Read (split only by the server's MaxNodesPerRead): the PLC does not touch
        # it between Result.Counter and the Ack, so chunks of one pending result are consistent
        header = [n.result_counter, n.result_ack, n.boot_id, n.result_id, n.result_serial]
        value_nodes = [n.value(v.name) for v in spec.values]
        trace_nodes = [node for ch in spec.trace_channels for node in (n.trace_time(ch), n.trace(ch))]
        read = await self._link.read(header + value_nodes + trace_nodes)
        counter, ack = codec.read_uint(read[0]), codec.read_uint(read[1])
        boot_id = codec.read_str(read[2])
        await self.note_boot_id(boot_id)
        self._board.update(station_id=self.station_id, result_counter=counter, result_ack=ack)
        if not codec.is_pending(counter=counter, answered=ack) or self.identification_problem is not None:
            return
        traces, trace_status = self._traces(spec, read[len(header) + len(value_nodes) :])
        result = PlcResult(
            result_id=codec.read_str(read[3]),
            serial=codec.read_str(read[4]),
            values=self._values(spec, read[len(header) : len(header) + len(value_nodes)]),
            traces=traces,
            trace_status=trace_status,
        )
        try:
            stored = await self._backend.handle_result(station_id=self.station_id, result=result)
        except Exception as exc:  # not committed: no Verdict, no Ack; the result is read again later
            logger.warning("result %s at %s not stored: %r", result.result_id, self.station_id, exc)
            await self._alarms.raise_once(
                station_id=self.station_id,
                key="result",
                message=f"result {result.result_id} of {result.serial} could not be stored ({exc}); retrying",
            )
            return
        self._alarms.clear(station_id=self.station_id, key="result")
        if not await self._result_still_stands(counter=counter, result_id=result.result_id, boot_id=boot_id):
            return
        await self._link.write([(n.result_verdict, codec.int32(stored.verdict.plc_code))])
        await self._link.write([(n.result_ack, codec.uint32(counter))])
        outcome = stored.verdict.value + (" (already stored)" if stored.duplicate else "")
        self._board.update(
            station_id=self.station_id,
            result_ack=counter,
            last_result=HandshakeEvent(counter=counter, serial=result.serial, outcome=outcome, at=now_utc()),
        )

    async def _result_still_stands(self, *, counter: int, result_id: str, boot_id: str) -> bool:
        """Re-read the result's counter, id and BootId once it is stored, before Verdict and Ack: a PLC
        that restarted while the result was stored has set its counters to 0 and may re-offer the same
        result at counter 1, which a stale Ack of 1 would acknowledge before its verdict is written. The
        stored result stays stored; whatever is pending now is served afresh (a re-offered result is found
        already stored and answered with its verdict). The window of one round trip between this Read and
        the Writes remains, as on the request side."""
        n = self.nodes
        return await self._still_stands(
            (n.result_counter, n.result_id), (counter, result_id, boot_id), "result", self.kick_result
        )

    @staticmethod
    def _values(spec: StationTypeSpec, read: Sequence[ua.DataValue]) -> dict[str, PlcValue]:
        return {v.name: codec.to_plc_value(dv, v.kind) for v, dv in zip(spec.values, read, strict=True)}

    def _traces(
        self, spec: StationTypeSpec, read: Sequence[ua.DataValue]
    ) -> tuple[dict[str, tuple[tuple[float, ...], tuple[float, ...]]], dict[str, Quality]]:
        """The channels' (t_s, samples) and, for channels not read Good, the worse status of the two
        nodes. A Bad channel keeps no samples, only its status (its check FAILs, "not valid"); an Uncertain one keeps
        them (its check gives at best a RETEST). Arrays of different lengths are kept as they came:
        stored, and judged FAIL naming both lengths."""
        traces: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
        status: dict[str, Quality] = {}
        for i, channel in enumerate(spec.trace_channels):
            t_dv, values_dv = read[2 * i], read[2 * i + 1]
            qualities = {codec.quality_of(t_dv), codec.quality_of(values_dv)}
            quality: Quality = "bad" if "bad" in qualities else "uncertain" if "uncertain" in qualities else "good"
            if quality != "good":
                status[channel] = quality
            if quality == "bad":  # recorded as a channel without samples, so its record says "not valid"
                traces[channel] = ((), ())
                continue
            t_s, values = codec.to_samples(t_dv), codec.to_samples(values_dv)
            if t_s is not None and values is not None:
                traces[channel] = (t_s, values)
                if len(t_s) != len(values):
                    logger.warning(
                        "station %s: trace %s has %d samples but %d time stamps",
                        self.station_id,
                        channel,
                        len(values),
                        len(t_s),
                    )
            else:  # not an array of numbers: counts as not recorded
                logger.warning("station %s: trace %s unreadable", self.station_id, channel)
        return traces, status


class AlarmLatch:
    """Raises each distinct alarm once per station and key until it is cleared (no alarm storms)."""

    def __init__(self, backend: StationBackend) -> None:
        self._backend = backend
        self._active: dict[tuple[str, str], str] = {}

    async def raise_once(self, *, station_id: str, key: str, message: str) -> None:
        if self._active.get((station_id, key)) == message:
            return
        self._active[(station_id, key)] = message
        try:
            await self._backend.raise_alarm(station_id=station_id, message=message)
        except Exception:
            logger.exception("could not raise alarm on %s: %s", station_id, message)

    def clear(self, *, station_id: str, key: str) -> None:
        self._active.pop((station_id, key), None)
