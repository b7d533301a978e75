"""The MES against a PLC built on another OPC UA stack: node-opcua, held strictly to plc-interface.md.

The PLC (tests/opcua/interop/strict_plc.js) refuses what node-opcua refuses (a value of another
built-in type, a write to a node the PLC owns) and records, per station, every Read and Write the
MES sends and each departure from the contract's writing rules and handshakes.
"""

from __future__ import annotations

import asyncio
import math
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.opcua.backend import PlcResult, StoredVerdict
from app.opcua.master_data import SecuritySettings, StationEndpoint
from app.opcua.security import make_certificate, make_mes_certificate
from app.opcua.station_types import StationTypeSpec, registry_lookup
from app.opcua.supervisor import OpcuaSupervisor
from tests.opcua.conftest import FAST, eventually, free_port, run
from tests.opcua.interop import NodePlc, PlcSecurity, PlcStation
from tests.opcua.memory_backend import RECIPE, MemoryBackend
from tests.opcua.rules_backend import HPM_06, RulesBackend

lookup = registry_lookup()
assert lookup is not None
LEAK_TEST: StationTypeSpec = lookup("leak_test")
COIL: StationTypeSpec = lookup("coil_expansion")


def leak_values(*, signal_mbar_l_s: float) -> dict[str, Any]:
    """A leak-test result set for the R290 monobloc (PS 25 bar: a valid test is at ≥ 7.26 bar absolute)."""
    return {
        "TracerGas": "R290",
        "LeakSignal_mbar_l_s": signal_mbar_l_s,
        "TestPressure_bar": 8.0,
        "InstrumentId": "LD-01",
        "RefLeakCheckAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "RefLeakNominal_mbar_l_s": 5.0e-5,
        "RefLeakReading_mbar_l_s": 5.1e-5,
    }


def supervisor_for(plc: NodePlc, stations: dict[str, StationTypeSpec], backend: Any) -> OpcuaSupervisor:
    return OpcuaSupervisor(
        stations=[StationEndpoint(station_id, spec.code, plc.url) for station_id, spec in stations.items()],
        backend=backend,
        security=SecuritySettings(allow_none=True),
        station_types=lambda code: {spec.code: spec for spec in stations.values()}[code],
        timing=FAST,
    )


def writes_of(log: dict[str, Any]) -> list[dict[str, tuple[str, Any]]]:
    """The MES's Write requests at one station, each as {path: (built-in type, value)}."""
    return [
        {w["path"]: (w["dataType"], w["value"]) for w in entry["writes"]}
        for entry in log["log"]
        if entry["service"] == "Write"
    ]


def test_a_node_opcua_plc_gets_units_refused_released_judged_and_acknowledged_by_the_contract(tmp_path: Path):
    async def scenario():
        plc = NodePlc(
            port=free_port(),
            stations=[PlcStation("LT-01", LEAK_TEST)],
            workdir=tmp_path,
            # the station namespace is not the first a server registers: the MES must resolve it by URI
            extra_namespaces=["urn:vendor:diagnostics", "urn:vendor:io"],
        )
        ready = await plc.start()
        assert ready["namespace_index"] >= 3
        backend = RulesBackend(product=HPM_06, route=(("LT-01", "leak_test"),), serials={"SN-TIGHT", "SN-LEAKY"})
        supervisor = supervisor_for(plc, {"LT-01": LEAK_TEST}, backend)
        await supervisor.start()
        try:
            await eventually(lambda: supervisor.status("LT-01").link == "connected", what="connected")
            assert supervisor.status("LT-01").identification_ok is True
            assert supervisor.status("LT-01").boot_id == ready["boot_ids"]["LT-01"]

            refused = await plc.request("LT-01", "SN-NOBODY")
            assert refused["answered"] and refused["release"] is False
            assert refused["reason"] == "SN-NOBODY is not released for this line" and refused["recipe"] == ""

            released = await plc.request("LT-01", "SN-TIGHT")
            assert released["answered"] and released["release"] is True
            assert released["reason"] == "" and released["recipe"] == "HPM-06-R290-EVI/1"
            tight = await plc.result("LT-01", "SN-TIGHT", values=leak_values(signal_mbar_l_s=1.0e-5))
            assert tight["event"] == "acked" and tight["verdict"] == 1  # PASS: 0.57 g/yr

            assert (await plc.request("LT-01", "SN-LEAKY"))["release"] is True
            leaky = await plc.result("LT-01", "SN-LEAKY", values=leak_values(signal_mbar_l_s=2.0e-4))
            assert leaky["event"] == "acked" and leaky["verdict"] == 2  # FAIL: 11 g/yr
            assert backend.failures["SN-LEAKY"] == ("leak_test", ("leak_rate",))

            log = await plc.log("LT-01")
        finally:
            await supervisor.stop()
            await plc.stop()
        assert log["violations"] == []
        # each handshake as the PLC received it: the answer fields, then Response.Counter on its own;
        # the Verdict, then the Ack on its own; every value with the node's exact built-in type
        assert writes_of(log) == [
            {
                "Response.Release": ("Boolean", False),
                "Response.Reason": ("String", "SN-NOBODY is not released for this line"),
                "Response.Recipe": ("String", ""),
            },
            {"Response.Counter": ("UInt32", 1)},
            {
                "Response.Release": ("Boolean", True),
                "Response.Reason": ("String", ""),
                "Response.Recipe": ("String", "HPM-06-R290-EVI/1"),
            },
            {"Response.Counter": ("UInt32", 2)},
            {"Result.Verdict": ("Int32", 1)},
            {"Result.Ack": ("UInt32", 1)},
            {
                "Response.Release": ("Boolean", True),
                "Response.Reason": ("String", ""),
                "Response.Recipe": ("String", "HPM-06-R290-EVI/1"),
            },
            {"Response.Counter": ("UInt32", 3)},
            {"Result.Verdict": ("Int32", 2)},
            {"Result.Ack": ("UInt32", 2)},
        ]
        for entry in log["log"]:
            for write in entry.get("writes", []):
                assert write["status"] == 0 and write["sourceTimestamp"] is None and write["serverTimestamp"] is None

    run(scenario, timeout_s=120)


class GatedBackend(MemoryBackend):
    """Stores a result at once, but answers the adapter only when ``gate`` is open: the PLC can lose
    power between the MES's commit and its Verdict and Ack."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        stored = await super().handle_result(station_id=station_id, result=result)
        await self.gate.wait()
        return stored


def test_a_node_opcua_plc_losing_power_before_the_ack_offers_its_result_again_and_it_is_stored_once(
    tmp_path: Path,
):
    async def scenario():
        station = PlcStation("CE-01", COIL)
        plc = NodePlc(port=free_port(), stations=[station], workdir=tmp_path)
        first_boot = (await plc.start())["boot_ids"]["CE-01"]
        backend = GatedBackend(route=("CE-01",), serials={"SN-1", "SN-2"})
        supervisor = supervisor_for(plc, {"CE-01": COIL}, backend)
        await supervisor.start()
        try:
            await eventually(lambda: supervisor.status("CE-01").link == "connected", what="connected")
            assert (await plc.request("CE-01", "SN-1"))["release"] is True
            backend.gate.clear()
            await plc.result("CE-01", "SN-1", values=coil_values(), traces=coil_traces(), wait=False)
            await eventually(lambda: len(backend.stored) == 1, what="the result committed")
            (result_id,) = (rid for _, rid in backend.stored)
            await plc.kill()  # after the commit, before Verdict and Ack
            backend.gate.set()

            second_boot = (await plc.start())["boot_ids"]["CE-01"]
            assert second_boot != first_boot
            reoffered = await plc.wait_for(lambda e: e["event"] == "reoffered", what="the result offered again")
            assert reoffered["result_id"] == result_id == f"{first_boot}-1"
            acked = await plc.wait_for(lambda e: e["event"] in ("acked", "not_acked"), what="Ack of the re-offer")
            del acked["elapsed_ms"]
            assert acked == {
                "event": "acked",
                "station": "CE-01",
                "serial": "SN-1",
                "result_id": result_id,
                "counter": 1,
                "verdict": 1,
            }
            assert len(backend.stored) == 1 and backend.store_attempts == 2  # read twice, stored once
            # the new boot counts requests from 0 again: its request 1 is a new one, answered
            answer = await plc.request("CE-01", "SN-2")
            assert answer["answered"] and answer["counter"] == 1 and answer["release"] is True
            log = await plc.log("CE-01")
        finally:
            await supervisor.stop()
            await plc.stop()
        assert log["violations"] == []
        assert writes_of(log)[-4:] == [
            {"Result.Verdict": ("Int32", 1)},
            {"Result.Ack": ("UInt32", 1)},
            {
                "Response.Release": ("Boolean", True),
                "Response.Reason": ("String", ""),
                "Response.Recipe": ("String", RECIPE),
            },
            {"Response.Counter": ("UInt32", 1)},
        ]

    run(scenario, timeout_s=120)


def coil_values() -> dict[str, Any]:
    return {"CoilBatch": "CB-7", "PeakForce_kN": 41.0, "LengthLoss_mm": 1.2, "FinPitch_mm": 1.8}


def coil_traces() -> dict[str, tuple[list[float], list[float]]]:
    return {"HairpinPeakForce_kN": ([1.0, 2.0], [40.0, 41.0]), "Force_kN": ([0.0, 0.5, 1.0], [0.0, 20.0, 41.0])}


@dataclass(frozen=True)
class Pki:
    root: Path
    mes_cert: Path
    mes_key: Path
    plc_cert_pem: Path
    plc_key: Path
    mes_trust: Path  # holds the PLC's certificate

    def plc(self, *, trusts_mes: bool = True) -> PlcSecurity:
        """The PLC's security; its PKI store trusts the MES certificate when ``trusts_mes``."""
        store = self.root / ("plc-pki-trusting" if trusts_mes else "plc-pki-empty")
        (store / "trusted" / "certs").mkdir(parents=True, exist_ok=True)
        if trusts_mes:
            shutil.copy(self.mes_cert, store / "trusted" / "certs" / "mes.der")
        return PlcSecurity(self.plc_cert_pem, self.plc_key, store, users={"mes": "s3cret"})

    def mes(self, *, trust: Path | None = None, password: str = "s3cret") -> SecuritySettings:
        return SecuritySettings(
            certificate_path=self.mes_cert,
            private_key_path=self.mes_key,
            trust_dir=trust or self.mes_trust,
            username="mes",
            password=password,
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("node-pki")
    mes_cert, mes_key = root / "mes.der", root / "mes.pem"
    make_mes_certificate(certificate_path=mes_cert, private_key_path=mes_key, hostnames=["localhost"])
    plc_der, plc_key = root / "plc.der", root / "plc-key.pem"
    cert = make_certificate(
        certificate_path=plc_der,
        private_key_path=plc_key,
        application_uri="urn:ashp-line:node-opcua-plc",
        common_name="node-opcua PLC",
        hostnames=["localhost", "127.0.0.1"],
    )
    plc_pem = root / "plc-cert.pem"
    plc_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "mes-trust").mkdir()
    shutil.copy(plc_der, root / "mes-trust" / "plc.der")
    return Pki(root, mes_cert, mes_key, plc_pem, plc_key, root / "mes-trust")


async def _secure_rig(
    pki: Pki, workdir: Path, *, plc_security: PlcSecurity, mes_security: SecuritySettings
) -> tuple[NodePlc, OpcuaSupervisor, MemoryBackend]:
    plc = NodePlc(port=free_port(), stations=[PlcStation("CE-01", COIL)], workdir=workdir, security=plc_security)
    await plc.start()
    backend = MemoryBackend(route=("CE-01",), serials={"SN-1"})
    supervisor = OpcuaSupervisor(
        stations=[StationEndpoint("CE-01", "coil_expansion", plc.url)],
        backend=backend,
        security=mes_security,
        station_types=lambda code: COIL,
        timing=FAST,
    )
    await supervisor.start()
    return plc, supervisor, backend


def test_the_mes_runs_the_handshakes_with_a_node_opcua_plc_over_sign_and_encrypt_with_a_user_name(
    pki: Pki, tmp_path: Path
):
    async def scenario():
        plc, supervisor, _ = await _secure_rig(pki, tmp_path, plc_security=pki.plc(), mes_security=pki.mes())
        try:
            await eventually(lambda: supervisor.status("CE-01").link == "connected", timeout_s=30, what="secure link")
            assert (await plc.request("CE-01", "SN-1"))["release"] is True
            acked = await plc.result("CE-01", "SN-1", values=coil_values(), traces=coil_traces())
            assert acked["event"] == "acked" and acked["verdict"] == 1
            log = await plc.log("CE-01")
        finally:
            await supervisor.stop()
            await plc.stop()
        assert log["violations"] == []

    run(scenario, timeout_s=120)


def _assert_refused(pki: Pki, workdir: Path, *, plc_security: PlcSecurity, mes_security: SecuritySettings, words: str):
    async def scenario():
        plc, supervisor, backend = await _secure_rig(pki, workdir, plc_security=plc_security, mes_security=mes_security)
        try:
            await eventually(lambda: supervisor.status("CE-01").link == "refused", timeout_s=30, what="refusal")
            status = supervisor.status("CE-01")
            assert words in status.problem, status.problem
            assert any(words in message for _, message in backend.alarms), backend.alarms
            assert "AssertionError" not in status.problem
        finally:
            await supervisor.stop()
            await plc.stop()

    run(scenario, timeout_s=120)


def test_a_node_opcua_plc_refusing_the_mes_certificate_is_a_clear_alarm(pki: Pki, tmp_path: Path):
    """node-opcua answers the OpenSecureChannel with a fault that asyncua 2.1 cannot parse (it then raises
    a bare AssertionError): the alarm says the PLC refused the connection and which certificate to install."""
    plc_security = pki.plc(trusts_mes=False)
    _assert_refused(
        pki,
        tmp_path,
        plc_security=plc_security,
        mes_security=pki.mes(),
        words=f"install the MES certificate {pki.mes_cert} (SHA-256 thumbprint",
    )
    # the PLC did refuse the certificate: its store put the MES's aside as rejected
    (rejected,) = (plc_security.pki_root / "rejected").iterdir()
    assert x509.load_pem_x509_certificate(rejected.read_bytes()) == x509.load_der_x509_certificate(
        pki.mes_cert.read_bytes()
    )


def test_a_wrong_password_at_a_node_opcua_plc_is_a_clear_alarm(pki: Pki, tmp_path: Path):
    _assert_refused(
        pki, tmp_path, plc_security=pki.plc(), mes_security=pki.mes(password="wrong"), words="user name or password"
    )


def test_a_node_opcua_plc_certificate_not_in_the_mes_trust_list_is_refused(pki: Pki, tmp_path: Path):
    empty = tmp_path / "empty-trust"
    empty.mkdir()
    _assert_refused(
        pki, tmp_path, plc_security=pki.plc(), mes_security=pki.mes(trust=empty), words="not in the MES trust list"
    )


def test_a_node_opcua_gateway_hosting_two_stations_is_served_for_both_at_once_with_live_values(tmp_path: Path):
    async def scenario():
        plc = NodePlc(
            port=free_port(), stations=[PlcStation("CE-01", COIL), PlcStation("LT-01", LEAK_TEST)], workdir=tmp_path
        )
        await plc.start()
        backend = MemoryBackend(route=("CE-01", "LT-01"), serials={"SN-A", "SN-B"})
        backend.progress["SN-B"] = 1  # SN-B has been through coil expansion: next is the leak test
        supervisor = supervisor_for(plc, {"CE-01": COIL, "LT-01": LEAK_TEST}, backend)
        await supervisor.start()
        try:
            for station_id in ("CE-01", "LT-01"):
                await eventually(lambda s=station_id: supervisor.status(s).link == "connected", what=station_id)
            answers = await asyncio.gather(plc.request("CE-01", "SN-A"), plc.request("LT-01", "SN-B"))
            assert [a["release"] for a in answers] == [True, True]
            leak = leak_values(signal_mbar_l_s=1.0e-5)
            acks = await asyncio.gather(
                plc.result("CE-01", "SN-A", values=coil_values(), traces=coil_traces()),
                plc.result("LT-01", "SN-B", values=leak),
            )
            assert [(a["event"], a["verdict"]) for a in acks] == [("acked", 1), ("acked", 1)]
            assert set(backend.stored) == {("CE-01", acks[0]["result_id"]), ("LT-01", acks[1]["result_id"])}
            stored_leak = backend.stored[("LT-01", acks[1]["result_id"])][0]
            # a DateTime crosses as UTC (node-opcua keeps milliseconds)
            checked_at = stored_leak.values["RefLeakCheckAt"].value
            assert abs(checked_at - datetime.fromisoformat(leak["RefLeakCheckAt"])) < timedelta(milliseconds=1)
            assert checked_at.utcoffset() == timedelta(0)
            assert stored_leak.values["TracerGas"].value == "R290"
            assert stored_leak.values["LeakSignal_mbar_l_s"].value == 1.0e-5

            await plc.send({"cmd": "live", "station": "CE-01", "channel": "Force_kN", "value": 12.5})
            await plc.send({"cmd": "live", "station": "LT-01", "channel": "LeakSignal_mbar_l_s", "value": 3.0e-6})

            def live(station_id: str, channel: str) -> float | None:
                value = supervisor.live_bus.latest(station_id).get(channel)
                return None if value is None else value.value

            await eventually(lambda: live("CE-01", "Force_kN") == 12.5, what="live force")
            await eventually(lambda: live("LT-01", "LeakSignal_mbar_l_s") == 3.0e-6, what="live leak signal")
            logs = [await plc.log(station_id) for station_id in ("CE-01", "LT-01")]
        finally:
            await supervisor.stop()
            await plc.stop()
        assert [log["violations"] for log in logs] == [[], []]

    run(scenario, timeout_s=120)


def test_a_node_opcua_plcs_counters_wrap_from_4294967295_to_1_and_are_answered(tmp_path: Path):
    async def scenario():
        plc = NodePlc(port=free_port(), stations=[PlcStation("CE-01", COIL, counters_at=4294967295)], workdir=tmp_path)
        await plc.start()
        backend = MemoryBackend(route=("CE-01",), serials={"SN-1"})
        supervisor = supervisor_for(plc, {"CE-01": COIL}, backend)
        await supervisor.start()
        try:
            await eventually(lambda: supervisor.status("CE-01").link == "connected", what="connected")
            answer = await plc.request("CE-01", "SN-1")
            assert answer["counter"] == 1 and answer["answered"] and answer["release"] is True
            acked = await plc.result("CE-01", "SN-1", values=coil_values(), traces=coil_traces())
            assert (acked["event"], acked["counter"], acked["verdict"]) == ("acked", 1, 1)
            log = await plc.log("CE-01")
        finally:
            await supervisor.stop()
            await plc.stop()
        assert log["violations"] == []
        assert [w for w in writes_of(log) if "Response.Counter" in w or "Result.Ack" in w] == [
            {"Response.Counter": ("UInt32", 1)},
            {"Result.Ack": ("UInt32", 1)},
        ]

    run(scenario, timeout_s=120)


def test_the_contracts_largest_result_crosses_from_a_node_opcua_plc_whole(tmp_path: Path):
    """run_in: six channels of 20,000 samples (the contract's most) and their times, about 1.9 MB in one
    Read, within node-opcua's default message and chunk limits; every sample arrives as it was sent."""
    run_in = lookup("run_in")

    async def scenario():
        plc = NodePlc(port=free_port(), stations=[PlcStation("RI-01", run_in)], workdir=tmp_path)
        await plc.start()
        backend = MemoryBackend(route=("RI-01",), serials={"SN-1"})
        supervisor = supervisor_for(plc, {"RI-01": run_in}, backend)
        await supervisor.start()
        t = [i * 0.5 for i in range(20_000)]
        traces = {
            channel: (t, [k + math.sin(i / 97.0) for i in range(20_000)])
            for k, channel in enumerate(run_in.trace_channels)
        }
        values = {v.name: "temperature" if v.kind == "string" else 1.0 for v in run_in.values}
        try:
            await eventually(lambda: supervisor.status("RI-01").link == "connected", what="connected")
            assert (await plc.request("RI-01", "SN-1"))["release"] is True
            acked = await plc.result("RI-01", "SN-1", values=values, traces=traces)
        finally:
            await supervisor.stop()
            await plc.stop()
        assert acked["event"] == "acked"
        ((stored, _),) = backend.stored.values()
        assert stored.traces == {channel: (tuple(t_s), tuple(v)) for channel, (t_s, v) in traces.items()}
        assert len(stored.traces) == 6

    run(scenario, timeout_s=120)


def test_a_node_opcua_plc_with_small_operation_limits_is_read_and_written_in_chunks_it_accepts(tmp_path: Path):
    """A PLC publishing MaxNodesPerRead 25 and MaxNodesPerWrite 2 (node-opcua refuses a larger request
    with BadTooManyOperations): the run_in result set (82 nodes) is read in consecutive chunks and every
    value lands under its own name; the three answer fields go in two Writes, still before the counter."""
    run_in = lookup("run_in")

    async def scenario():
        plc = NodePlc(
            port=free_port(),
            stations=[PlcStation("RI-01", run_in)],
            workdir=tmp_path,
            max_nodes_per_read=25,
            max_nodes_per_write=2,
        )
        await plc.start()
        backend = MemoryBackend(route=("RI-01",), serials={"SN-1"})
        supervisor = supervisor_for(plc, {"RI-01": run_in}, backend)
        await supervisor.start()
        values = {v.name: f"text-{i}" if v.kind == "string" else float(i) + 0.25 for i, v in enumerate(run_in.values)}
        traces = {channel: ([0.0, 1.0], [float(k), float(k) + 0.5]) for k, channel in enumerate(run_in.trace_channels)}
        try:
            await eventually(lambda: supervisor.status("RI-01").link == "connected", what="connected")
            assert (await plc.request("RI-01", "SN-1"))["release"] is True
            acked = await plc.result("RI-01", "SN-1", values=values, traces=traces)
            log = await plc.log("RI-01")
        finally:
            await supervisor.stop()
            await plc.stop()
        assert acked["event"] == "acked"
        ((stored, _),) = backend.stored.values()
        assert {name: v.value for name, v in stored.values.items()} == values
        assert stored.traces == {channel: (tuple(t_s), tuple(v)) for channel, (t_s, v) in traces.items()}
        assert log["violations"] == []
        assert max(len(entry["paths"]) for entry in log["log"] if entry["service"] == "Read") == 25
        assert max(len(entry["paths"]) for entry in log["log"] if entry["service"] == "Write") == 2

    run(scenario, timeout_s=120)


def test_a_station_restarting_on_a_live_node_opcua_gateway_while_its_result_is_stored_gets_one_verdict_and_ack(
    tmp_path: Path,
):
    """The gateway stays up and only the station's program restarts (new BootId, counters 0) while the MES
    is committing its result; the re-offer of that result at counter 1 is read before its Verdict and Ack,
    found stored, and answered once: no Verdict or Ack meant for the old boot reaches the new one."""

    async def scenario():
        plc = NodePlc(port=free_port(), stations=[PlcStation("CE-01", COIL)], workdir=tmp_path)
        first_boot = (await plc.start())["boot_ids"]["CE-01"]
        backend = GatedBackend(route=("CE-01",), serials={"SN-1"})
        supervisor = supervisor_for(plc, {"CE-01": COIL}, backend)
        await supervisor.start()
        try:
            await eventually(lambda: supervisor.status("CE-01").link == "connected", what="connected")
            assert (await plc.request("CE-01", "SN-1"))["release"] is True
            backend.gate.clear()
            before_restart = len(plc.events)
            await plc.result("CE-01", "SN-1", values=coil_values(), traces=coil_traces(), wait=False)
            await eventually(lambda: len(backend.stored) == 1, what="the result committed")
            await plc.send({"cmd": "restart", "station": "CE-01"})
            restarted = await plc.wait_for(lambda e: e["event"] == "restarted", what="restart", start=before_restart)
            reoffered = await plc.wait_for(lambda e: e["event"] == "reoffered", what="re-offer", start=before_restart)
            backend.gate.set()
            acked = await plc.wait_for(lambda e: e["event"] == "acked", what="Ack of the re-offer")
            lost = await plc.wait_for(lambda e: e["event"] == "lost_in_restart", what="the first offer's end")
            log = await plc.log("CE-01")
            boot_seen = supervisor.status("CE-01").boot_id
        finally:
            await supervisor.stop()
            await plc.stop()
        assert reoffered["result_id"] == lost["result_id"] == acked["result_id"] == f"{first_boot}-1"
        assert (acked["counter"], acked["verdict"]) == (1, 1)
        assert len(backend.stored) == 1 and backend.store_attempts == 2
        assert log["violations"] == []
        assert [w for w in writes_of(log) if "Result.Verdict" in w or "Result.Ack" in w] == [
            {"Result.Verdict": ("Int32", 1)},
            {"Result.Ack": ("UInt32", 1)},
        ]
        assert boot_seen == restarted["boot_id"] != first_boot

    run(scenario, timeout_s=120)
