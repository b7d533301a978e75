"""Request and result handshakes against a real asyncua server on loopback."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from asyncua import ua

from app.domain.results import Verdict
from app.opcua import codec
from app.opcua.backend import ReleaseAnswer
from app.opcua.simulator.plc import ResultSet
from tests.opcua.conftest import eventually, run
from tests.opcua.harness import ServiceLog, connected_plc, rig
from tests.opcua.memory_backend import RECIPE, MemoryBackend


def _result(plc, serial: str, **values) -> ResultSet:
    base = {"Force_kN": 36.5, "Batch": "CB-7", "Passed": True, "CheckedAt": datetime(2026, 11, 27, 8, tzinfo=UTC)}
    base.update(values)
    return ResultSet(
        result_id=plc.new_result_id(),
        serial=serial,
        values=base,
        traces={"Force_kN": ([0.0, 0.5, 1.0], [0.0, 20.0, 36.5])},
    )


def test_unit_is_released_and_its_result_stored_judged_and_acknowledged():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            outcome = await plc.request_release("SN-1")
            assert outcome.answered and outcome.release and outcome.recipe == RECIPE and outcome.reason == ""
            await plc.publish_result(_result(plc, "SN-1", Force_kN=float("nan"), CheckedAt=None))
            assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code
            ((key, (stored, verdict)),) = backend.stored.items()
            assert key == ("ST-1", f"{plc.boot_id}-1") and verdict == Verdict.PASS
            assert stored.serial == "SN-1"
            assert stored.values["Force_kN"].value is None and stored.values["Force_kN"].quality == "good"
            assert stored.values["CheckedAt"].value is None
            assert stored.values["Batch"].value == "CB-7" and stored.values["Passed"].value is True
            assert stored.traces["Force_kN"] == ((0.0, 0.5, 1.0), (0.0, 20.0, 36.5))
            # the status board is updated right after the Ack write, so the PLC may see the Ack first
            await eventually(lambda: r.supervisor.status("ST-1").last_result is not None, what="status updated")
            status = r.supervisor.status("ST-1")
            assert status.last_result is not None and status.last_result.serial == "SN-1"
            assert not status.request_pending and not status.result_pending

    run(scenario)


def test_skip_request_is_refused_over_opcua_with_a_reason():
    async def scenario():
        backend = MemoryBackend(route=("ST-1", "ST-2"), serials={"SN-1"})
        async with rig(["ST-1", "ST-2"], backend=backend) as r:
            await eventually(lambda: r.supervisor.status("ST-2").link == "connected", what="connect")
            outcome = await r.plcs["ST-2"].request_release("SN-1")
            assert outcome.answered and not outcome.release
            assert "must go to ST-1" in outcome.reason and outcome.recipe == ""

    run(scenario)


def test_writes_use_exact_builtin_types_and_carry_no_status_or_timestamps():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            await plc.request_release("SN-1")
            await plc.publish_result(_result(plc, "SN-1"))
            await plc.wait_for_ack(5.0)
            expected = {
                "Response.Counter": ua.VariantType.UInt32,
                "Response.Release": ua.VariantType.Boolean,
                "Response.Reason": ua.VariantType.String,
                "Response.Recipe": ua.VariantType.String,
                "Result.Verdict": ua.VariantType.Int32,
                "Result.Ack": ua.VariantType.UInt32,
            }
            for path, variant_type in expected.items():
                dv = r.server.read_data_value("ST-1", path)
                assert dv.Value.VariantType == variant_type, path
                assert dv.SourceTimestamp is None and dv.StatusCode in (None, ua.StatusCode()), path

    run(scenario)


def test_each_field_that_must_come_last_is_written_in_its_own_later_write_request():
    """plc-interface.md, writing rules: the order inside one Write request is undefined, so
    Response.Counter follows the answer fields (Release, Reason, Recipe) in its own, later Write, and
    Result.Ack follows Result.Verdict in its own, later Write. Seen from the PLC's server, request by
    request: a PLC that acts on Response.Counter or on Result.Ack must find the answer or the verdict
    already there. Nothing else is written."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"}, judge=lambda station_id, result: Verdict.RETEST)
        async with rig(["ST-1"], backend=backend) as r:
            log = ServiceLog(r.server, "ST-1")
            plc = await connected_plc(r, "ST-1")
            refused = await plc.request_release("SN-9")
            assert refused.answered and not refused.release
            assert (await plc.request_release("SN-1")).release
            await plc.publish_result(_result(plc, "SN-1"))
            assert await plc.wait_for_ack(5.0) == Verdict.RETEST.plc_code
            assert log.writes() == [
                {"Response.Release": False, "Response.Reason": "unknown serial SN-9", "Response.Recipe": ""},
                {"Response.Counter": 1},
                {"Response.Release": True, "Response.Reason": "", "Response.Recipe": RECIPE},
                {"Response.Counter": 2},
                {"Result.Verdict": Verdict.RETEST.plc_code},
                {"Result.Ack": 1},
            ], "the Write requests the PLC received, in order"

    run(scenario)


async def _publish_operation_limit(r, name: str, limit: int) -> None:
    """The PLC's server publishes one of its OperationLimits (MaxNodesPerRead, MaxNodesPerWrite …)."""
    assert r.server.server is not None
    node = ua.NodeId(getattr(ua.ObjectIds, f"Server_ServerCapabilities_OperationLimits_{name}"))
    await r.server.server.write_attribute_value(node, ua.DataValue(ua.Variant(limit, ua.VariantType.UInt32)))


def test_result_set_is_read_in_chunks_of_the_servers_published_operation_limit():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            await _publish_operation_limit(r, "MaxNodesPerRead", 3)
            await r.supervisor.start()
            plc = await connected_plc(r, "ST-1")
            link = r.supervisor.runners[0].link
            assert link is not None and link.max_nodes_per_read == 3
            await plc.request_release("SN-1")
            reads_before = link.reads
            await plc.publish_result(_result(plc, "SN-1"))
            assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code
            # 5 header + 4 values + 2 trace nodes = 11 nodes -> 4 reads of at most 3
            assert link.reads - reads_before >= 4
            ((stored, _),) = backend.stored.values()
            assert stored.values["Batch"].value == "CB-7" and stored.traces["Force_kN"][1] == (0.0, 20.0, 36.5)

    run(scenario)


def test_answer_fields_are_written_in_requests_of_at_most_the_servers_published_write_limit():
    """pitfalls.md: asyncua does not read the server's OperationLimits; a PLC publishing MaxNodesPerWrite = 2
    refuses a Write of the three answer fields (BadTooManyOperations). Response.Counter still comes last."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            await _publish_operation_limit(r, "MaxNodesPerWrite", 2)
            log = ServiceLog(r.server, "ST-1")
            await r.supervisor.start()
            plc = await connected_plc(r, "ST-1")
            link = r.supervisor.runners[0].link
            assert link is not None and link.max_nodes_per_write == 2
            assert (await plc.request_release("SN-1")).release
            writes = log.writes()
            assert all(len(write) <= 2 for write in writes), writes
            assert writes[-1] == {"Response.Counter": 1}, writes
            answer = {path: value for write in writes[:-1] for path, value in write.items()}
            assert answer == {"Response.Release": True, "Response.Reason": "", "Response.Recipe": RECIPE}

    run(scenario)


def test_fit_utf8_counts_bytes_and_never_cuts_a_character_in_half():
    assert codec.fit_utf8("route complete", 254) == "route complete"
    exact = "é" * 127  # 254 bytes: fits as it is
    assert codec.fit_utf8(exact, 254) == exact
    cut = codec.fit_utf8("é" * 128, 254)  # 256 bytes
    assert cut.endswith("…") and codec.utf8_length(cut) <= 254
    assert cut == "é" * 125 + "…"  # 250 + 3 bytes: a 126th 'é' would need 256
    assert codec.fit_utf8("a" + "€" * 10, 10) == "a€€…"  # 1 + 2×3 + 3 bytes
    assert codec.fit_utf8("a" + "€" * 10, 9) == "a€…"  # the second '€' would be cut in half: dropped


def test_a_long_reason_fits_the_plcs_254_bytes_and_a_recipe_too_long_is_refused_not_cut():
    """Response.Reason is a 254-byte PLC string: the MES cuts a long reason on a character boundary
    in bytes, not characters. A recipe longer than 64 bytes would key the PLC's recipe store to
    something else if cut: the unit is refused instead."""
    answers = {
        "SN-DEG": ReleaseAnswer(release=False, reason="water outlet above 55 °C " * 20, recipe=""),
        "SN-LONG": ReleaseAnswer(release=True, reason="", recipe="M" * 62 + "/17"),  # 65 bytes
        "SN-OK": ReleaseAnswer(release=True, reason="", recipe="M" * 61 + "/17"),  # 64 bytes
    }

    class Scripted(MemoryBackend):
        async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
            return answers[serial]

    async def scenario():
        async with rig(["ST-1"], backend=Scripted(route=("ST-1",))) as r:
            plc = await connected_plc(r, "ST-1")
            degrees = await plc.request_release("SN-DEG")
            assert degrees.answered and not degrees.release and degrees.reason.endswith("…")
            assert 252 <= codec.utf8_length(degrees.reason) <= 254 and len(degrees.reason) < 254
            assert answers["SN-DEG"].reason.startswith(degrees.reason[:-1])
            too_long = await plc.request_release("SN-LONG")
            assert too_long.answered and not too_long.release and too_long.recipe == ""
            assert "longer than the 64 bytes" in too_long.reason and "M" * 62 + "/17" in too_long.reason
            fits = await plc.request_release("SN-OK")
            assert fits.release and fits.recipe == "M" * 61 + "/17"

    run(scenario)


def test_a_traces_status_reaches_the_judge_and_a_bad_traces_samples_are_not_taken():
    async def scenario():
        backend = MemoryBackend(route=("ST-1", "ST-1"), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            keys = []
            for status in ("uncertain", "bad"):
                assert (await plc.request_release("SN-1")).release
                result = _result(plc, "SN-1")
                await plc.publish_result(dataclasses.replace(result, trace_status={"Force_kN": status}))
                assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code  # the memory backend passes all
                keys.append(("ST-1", result.result_id))
            uncertain, bad = (backend.stored[key][0] for key in keys)
            assert uncertain.trace_status == {"Force_kN": "uncertain"}
            assert uncertain.traces["Force_kN"] == ((0.0, 0.5, 1.0), (0.0, 20.0, 36.5))  # kept: RETEST at best
            assert uncertain.statuses() == {"Traces.Force_kN": "uncertain"}  # not the value Force_kN's
            assert bad.trace_status == {"Force_kN": "bad"} and bad.traces["Force_kN"] == ((), ())  # no samples
            assert bad.statuses() == {"Traces.Force_kN": "bad"}

    run(scenario)


def test_a_trace_whose_time_stamps_do_not_match_its_samples_reaches_the_mes_as_it_came():
    """Dropped, it would be judged "missing" and lost to the record; kept, the judge names both lengths."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            result = dataclasses.replace(_result(plc, "SN-1"), traces={"Force_kN": ([0.0, 0.5], [0.0, 20.0, 36.5])})
            await plc.publish_result(result)
            assert await plc.wait_for_ack(5.0) is not None
            ((stored, _),) = backend.stored.values()
            assert stored.traces["Force_kN"] == ((0.0, 0.5), (0.0, 20.0, 36.5)) and stored.trace_status == {}

    run(scenario)


def test_bytes_that_are_not_utf8_in_a_plcs_strings_arrive_spelled_out_and_are_answered():
    """asyncua hands undecodable bytes over as lone surrogates, which no database driver, JSON or UTF-8
    length count accepts: the request went unanswered (and the session ended) and such a result could
    never be stored. They arrive as '\\xNN' instead, byte for byte visible."""
    assert codec.plain_text("CB-\udcc4-\udcff") == "CB-\\xc4-\\xff" and codec.plain_text("é°") == "é°"
    assert codec.utf8_length("\udcc4") == 1  # as asyncua writes it back
    assert codec.fit_utf8("\udcc4" * 300, 10) == "\udcc4" * 7 + "…"

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            odd = await plc.request_release("SN-\udcc4")  # the scanner sent byte 0xC4 alone
            assert odd.answered and not odd.release and odd.reason == "unknown serial SN-\\xc4"
            assert (await plc.request_release("SN-1")).release
            await plc.publish_result(_result(plc, "SN-1", Batch="CB-\udcc4"))
            assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code
            ((stored, _),) = backend.stored.values()
            assert stored.values["Batch"].value == "CB-\\xc4"

    run(scenario)
