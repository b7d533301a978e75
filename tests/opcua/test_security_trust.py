"""The trust store and the MES certificate against real asyncua servers: changes apply without a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncua import ua

from app.opcua.master_data import SecuritySettings, StationEndpoint
from app.opcua.security import (
    CertificateNotTrusted,
    TrustList,
    explain_connect_failure,
    make_certificate,
    make_mes_certificate,
)
from app.opcua.simulator.plc import SimulatedPlc
from app.opcua.simulator.server import HostedStation, ServerSecurity, StationServer
from app.opcua.station_types import lookup_from_specs
from app.opcua.supervisor import OpcuaSupervisor
from app.opcua.trust import certificate_info, read_certificate
from tests.opcua.conftest import FAST, endpoint_url, eventually, run
from tests.opcua.harness import TEST_TYPE, rig
from tests.opcua.memory_backend import MemoryBackend
from tests.opcua.test_security_trust_cli import mes


@dataclass(frozen=True)
class Plant:
    """The MES's files as deployed (``opcua/trusted`` beside ``opcua/rejected``) and one PLC's."""

    mes_cert: Path
    mes_key: Path
    trusted: Path  # the MES trust list, empty at first
    rejected: Path
    plc_cert: Path
    plc_key: Path
    plc_trust: Path  # the PLC's trust list, holding the MES certificate

    def mes_settings(self, **changes: object) -> SecuritySettings:
        return SecuritySettings(
            certificate_path=self.mes_cert,
            private_key_path=self.mes_key,
            trust_dir=self.trusted,
            username="mes",
            password="s3cret",
            **changes,  # type: ignore[arg-type]
        )

    def plc_security(self, trusted_clients: Path | None = None) -> ServerSecurity:
        return ServerSecurity(
            offer_none=False,
            certificate_path=self.plc_cert,
            private_key_path=self.plc_key,
            trusted_clients_dir=trusted_clients or self.plc_trust,
            users={"mes": "s3cret"},
        )


def make_plant(root: Path, *, mes_valid: tuple[int, int] = (0, 3650), plc_valid_days: int = 3650) -> Plant:
    """``mes_valid``: (days since the MES certificate became valid, days it is valid)."""
    opcua = root / "opcua"
    mes_cert, mes_key = opcua / "mes-cert.der", opcua / "mes-key.pem"
    since_days, valid_days = mes_valid
    make_mes_certificate(certificate_path=mes_cert, private_key_path=mes_key, hostnames=["localhost"])
    if mes_valid != (0, 3650):
        make_certificate(
            certificate_path=mes_cert,
            private_key_path=mes_key,
            application_uri="urn:ashp-line:mes",
            common_name="ASHP line MES",
            hostnames=["localhost"],
            valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(days=since_days),
            valid_days=valid_days,
        )
    plc_cert, plc_key = root / "plc" / "plc-cert.der", root / "plc" / "plc-key.pem"
    make_certificate(
        certificate_path=plc_cert,
        private_key_path=plc_key,
        application_uri="urn:ashp-line:simulator",
        common_name="Leak test PLC",
        hostnames=["localhost"],
        valid_days=plc_valid_days,
    )
    (opcua / "trusted").mkdir()
    (root / "plc" / "trusted").mkdir()
    shutil.copy(mes_cert, root / "plc" / "trusted" / "mes.der")
    return Plant(mes_cert, mes_key, opcua / "trusted", opcua / "rejected", plc_cert, plc_key, root / "plc" / "trusted")


def sha256(path: Path) -> str:
    return certificate_info(read_certificate(path)).sha256


def test_untrusted_plc_is_refused_and_kept_then_trusted_without_restarting_the_mes(tmp_path: Path):
    plant = make_plant(tmp_path)
    thumbprint = sha256(plant.plc_cert)

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1", "SN-2"})
        async with rig(
            ["ST-1"], backend=backend, security=plant.mes_settings(), server_security=plant.plc_security()
        ) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "not in the MES trust list" in problem and thumbprint in problem, problem
            assert any(thumbprint in message for _, message in backend.alarms), backend.alarms
            (kept,) = plant.rejected.iterdir()
            assert sha256(kept) == thumbprint and str(kept) in problem
            assert r.supervisor.runners[0].sessions_started == 0  # no session with an untrusted server

            assert mes(["opcua", "trust", "add", str(kept), "--trust-dir", str(plant.trusted)]) == 0
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect once trusted")
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release
            assert list(plant.rejected.iterdir()) == []  # trusted: no longer waiting in rejected
            assert not any("expires" in message for _, message in backend.alarms), backend.alarms

            assert mes(["opcua", "trust", "remove", thumbprint[:12], "--trust-dir", str(plant.trusted)]) == 0
            await r.server.stop()  # the PLC restarts: the MES reconnects and must refuse it again
            await r.server.start()
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refused after removal")
            assert thumbprint in r.supervisor.status("ST-1").problem

    run(scenario)


def test_rotated_mes_certificate_is_used_at_the_next_connect_and_can_be_rolled_back(tmp_path: Path):
    plant = make_plant(tmp_path)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")
    trusts_new_only = tmp_path / "plc-2" / "trusted"
    trusts_new_only.mkdir(parents=True)
    old = sha256(plant.mes_cert)

    async def scenario():
        urls = {"ST-1": endpoint_url(), "ST-2": endpoint_url()}
        servers = {
            "ST-1": StationServer(  # trusts only the MES certificate of today
                endpoint_url=urls["ST-1"],
                stations=[HostedStation("ST-1", TEST_TYPE)],
                security=plant.plc_security(),
            ),
            "ST-2": StationServer(  # its engineer installs only the rotated certificate
                endpoint_url=urls["ST-2"],
                stations=[HostedStation("ST-2", TEST_TYPE)],
                security=plant.plc_security(trusts_new_only),
            ),
        }
        for server in servers.values():
            await server.start()
        backend = MemoryBackend(route=("ST-2",), serials={"SN-1"})
        supervisor = OpcuaSupervisor(
            stations=[StationEndpoint(s, TEST_TYPE.code, url) for s, url in urls.items()],
            backend=backend,
            security=plant.mes_settings(),
            station_types=lookup_from_specs([TEST_TYPE]),
            timing=FAST,
        )
        await supervisor.start()
        try:
            await eventually(lambda: supervisor.status("ST-1").link == "connected", what="ST-1 with the old cert")
            await eventually(lambda: supervisor.status("ST-2").link == "refused", what="ST-2 refuses the old cert")
            problem = supervisor.status("ST-2").problem
            assert "PLC refused the MES certificate" in problem and old in problem, problem

            assert mes(["opcua", "rotate-cert", "--cert", str(plant.mes_cert), "--key", str(plant.mes_key)]) == 0
            new = sha256(plant.mes_cert)
            assert new != old
            shutil.copy(plant.mes_cert, trusts_new_only / "mes-new.der")

            await eventually(lambda: supervisor.status("ST-2").link == "connected", what="ST-2 with the new cert")
            plc = SimulatedPlc(server=servers["ST-2"], station_id="ST-2", spec=TEST_TYPE, answer_timeout_s=5.0)
            outcome = await plc.request_release("SN-1")
            assert outcome.answered and outcome.release
            assert supervisor.status("ST-1").link == "connected"  # the running session is left alone

            await servers["ST-1"].stop()
            await servers["ST-1"].start()
            await eventually(lambda: supervisor.status("ST-1").link == "refused", what="ST-1 refuses the new cert")
            assert new in supervisor.status("ST-1").problem

            rollback = [
                "opcua",
                "rotate-cert",
                "--rollback",
                "--cert",
                str(plant.mes_cert),
                "--key",
                str(plant.mes_key),
            ]
            assert mes(rollback) == 0
            assert sha256(plant.mes_cert) == old
            await eventually(lambda: supervisor.status("ST-1").link == "connected", what="ST-1 after roll-back")
        finally:
            await supervisor.stop()
            for server in servers.values():
                await server.stop()

    run(scenario)


def test_certificates_about_to_expire_are_an_alarm_but_still_connect(tmp_path: Path):
    plant = make_plant(tmp_path, mes_valid=(1, 20), plc_valid_days=10)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        security = plant.mes_settings(certificate_warn_days=30)
        async with rig(["ST-1"], backend=backend, security=security, server_security=plant.plc_security()) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            (message,) = [m for _, m in backend.alarms if "expires" in m]
            assert "MES certificate" in message and "rotate-cert" in message, message
            assert "Leak test PLC" in message and sha256(plant.plc_cert)[:16] in message, message
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release

    run(scenario)


@pytest.mark.parametrize(("valid", "words"), [((30, 10), "expired on"), ((-2, 10), "not valid yet")])
def test_mes_certificate_outside_its_validity_is_refused_before_connecting(
    tmp_path: Path, valid: tuple[int, int], words: str
):
    plant = make_plant(tmp_path, mes_valid=valid)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")

    async def scenario():
        backend = MemoryBackend(route=("ST-1",))
        async with rig(
            ["ST-1"], backend=backend, security=plant.mes_settings(), server_security=plant.plc_security()
        ) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "MES certificate" in problem and words in problem and "rotate-cert" in problem, problem
            assert any(words in message for _, message in backend.alarms)
            assert r.supervisor.runners[0].sessions_started == 0

    run(scenario)


def test_allowing_none_does_not_downgrade_past_an_untrusted_secure_endpoint(tmp_path: Path):
    plant = make_plant(tmp_path)  # the MES trust list is empty
    offers_both = ServerSecurity(
        offer_none=True,
        certificate_path=plant.plc_cert,
        private_key_path=plant.plc_key,
        trusted_clients_dir=plant.plc_trust,
        users={"mes": "s3cret"},
    )

    async def scenario():
        backend = MemoryBackend(route=("ST-1",))
        security = plant.mes_settings(allow_none=True)
        async with rig(["ST-1"], backend=backend, security=security, server_security=offers_both) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            assert "not in the MES trust list" in r.supervisor.status("ST-1").problem
            assert r.supervisor.runners[0].sessions_started == 0

    run(scenario)


def test_a_server_certificate_refused_inside_create_session_reads_as_the_mes_refusing(tmp_path: Path):
    """The same trust list also guards CreateSession (the trust folder may change between the two checks)."""
    plant = make_plant(tmp_path)
    with pytest.raises(CertificateNotTrusted) as refused:
        asyncio.run(TrustList(plant.trusted)(read_certificate(plant.plc_cert), ua.ApplicationDescription()))
    message = explain_connect_failure(refused.value)
    assert message is not None and "not in the MES trust list" in message and "PLC refused" not in message
