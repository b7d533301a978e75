"""The MES never sends its OPC UA password in clear, refuses a private key that is not its
certificate's with an alarm that says so, and looks for expiring certificates while a link stays up."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import stat
from pathlib import Path

import pytest

from app.opcua.security import make_certificate, make_mes_certificate
from app.opcua.simulator import server as simulator_server
from app.opcua.simulator.server import ServerSecurity
from tests.opcua.conftest import FAST, eventually, run
from tests.opcua.harness import rig
from tests.opcua.memory_backend import MemoryBackend
from tests.opcua.test_security_trust import make_plant


@pytest.fixture
def identities_seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, str | None]]:
    """Every (user name, password) the simulated PLC's user manager is shown."""
    seen: list[tuple[str | None, str | None]] = []
    original = simulator_server._PasswordUsers.get_user

    def get_user(self, iserver, username=None, password=None, certificate=None):  # type: ignore[no-untyped-def]
        seen.append((username, password))
        return original(self, iserver, username=username, password=password, certificate=certificate)

    monkeypatch.setattr(simulator_server._PasswordUsers, "get_user", get_user)
    return seen


def test_a_mes_with_a_certificate_does_not_fall_back_to_none_and_sends_no_password(
    tmp_path: Path, identities_seen: list[tuple[str | None, str | None]]
) -> None:
    """An endpoint list without secure endpoints (a misconfigured PLC, or someone in between) with
    None allowed: the MES refuses instead of opening a None session with its password in clear."""
    plant = make_plant(tmp_path)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")
    none_only = ServerSecurity(offer_none=True, users={"mes": "s3cret"})

    async def scenario() -> None:
        backend = MemoryBackend(route=("ST-1",))
        security = plant.mes_settings(allow_none=True)
        async with rig(["ST-1"], backend=backend, security=security, server_security=none_only) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "does not fall back to security mode None" in problem and "None/None" in problem, problem
            assert any("does not fall back" in message for _, message in backend.alarms), backend.alarms
            assert r.supervisor.runners[0].sessions_started == 0

    run(scenario)
    assert not any(password for _, password in identities_seen), identities_seen


def test_a_none_session_carries_no_password_and_a_configured_user_name_says_why(
    tmp_path: Path, identities_seen: list[tuple[str | None, str | None]]
) -> None:
    """Without a certificate and with None allowed (simulator, commissioning) the session is anonymous;
    a configured user name would not be sent, and the PLC's bare BadIdentityTokenRejected read as a
    wrong password: the MES says so itself instead."""
    plant = make_plant(tmp_path)
    without_certificate = dataclasses.replace(
        plant.mes_settings(allow_none=True), certificate_path=None, private_key_path=None
    )
    anonymous = dataclasses.replace(without_certificate, username=None, password=None)

    async def scenario() -> None:
        backend = MemoryBackend(route=("ST-1",))
        server = ServerSecurity(offer_none=True)
        async with rig(["ST-1"], backend=backend, security=without_certificate, server_security=server) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "user name (mes) is configured but the MES has no certificate" in problem, problem
            assert "remove MES_OPCUA__USERNAME" in problem
        async with rig(["ST-1"], security=anonymous, server_security=server) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")

    run(scenario)
    assert identities_seen and all(user is None and password is None for user, password in identities_seen)


@pytest.mark.parametrize("case", ["another key", "no key file"])
def test_a_private_key_that_is_not_the_certificates_is_refused_with_an_alarm(tmp_path: Path, case: str) -> None:
    plant = make_plant(tmp_path)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")
    other_key = tmp_path / "other" / "key.pem"
    if case == "another key":  # a rotation that copied only the key, or only the certificate
        make_mes_certificate(certificate_path=tmp_path / "other" / "cert.der", private_key_path=other_key)
    security = dataclasses.replace(plant.mes_settings(), private_key_path=other_key)
    words = "does not belong to the MES certificate" if case == "another key" else "No such file or directory"

    async def scenario() -> None:
        backend = MemoryBackend(route=("ST-1",))
        async with rig(["ST-1"], backend=backend, security=security, server_security=plant.plc_security()) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "MES private key" in problem and words in problem, problem
            assert any(words in message for _, message in backend.alarms), backend.alarms
            assert r.supervisor.runners[0].sessions_started == 0

    run(scenario)


def test_a_certificate_entering_its_warning_window_while_connected_raises_the_alarm(tmp_path: Path) -> None:
    plant = make_plant(tmp_path)
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")
    # the MES certificate expires in 30 days and 1 hour: outside a 30-day window at connect; the MES's clock
    # then moves on 2 hours while the session stays up, and the next check must find it inside
    make_certificate(
        certificate_path=plant.mes_cert,
        private_key_path=plant.mes_key,
        application_uri="urn:ashp-line:mes",
        common_name="ASHP line MES",
        hostnames=["localhost"],
        valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(days=1) + dt.timedelta(hours=1),
        valid_days=31,
    )
    shutil.copy(plant.mes_cert, plant.plc_trust / "mes.der")
    timing = dataclasses.replace(FAST, certificate_check_interval_s=0.5)
    moved_on = dt.timedelta(0)

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + moved_on

    async def scenario() -> None:
        nonlocal moved_on
        backend = MemoryBackend(route=("ST-1",))
        security = plant.mes_settings(certificate_warn_days=30)
        async with rig(
            ["ST-1"],
            backend=backend,
            security=security,
            server_security=plant.plc_security(),
            timing=timing,
            clock=clock,
        ) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            await asyncio.sleep(2 * timing.certificate_check_interval_s)  # checked again while connected
            assert not any("expires" in message for _, message in backend.alarms), "warned too early"
            moved_on = dt.timedelta(hours=2)
            await eventually(
                lambda: any("MES certificate" in m and "expires" in m for _, m in backend.alarms),
                what="expiry alarm while connected",
                timeout_s=10,
            )
            assert r.supervisor.runners[0].sessions_started == 1  # found without a reconnect

    run(scenario)


@pytest.mark.parametrize("existing", [False, True])
def test_the_private_key_is_created_private_not_made_private_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """Written with the umask's permissions and chmod-ed after, the key was readable by others for a
    moment; with ``Path.chmod`` disabled, that moment is what the file keeps."""
    key = tmp_path / "mes-key.pem"
    if existing:  # a key file left by hand with the umask's permissions, overwritten by --force
        key.write_bytes(b"old key")
        key.chmod(0o644)
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    make_mes_certificate(certificate_path=tmp_path / "mes-cert.der", private_key_path=key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_an_expired_plc_certificate_is_refused_with_its_date_and_what_to_do(tmp_path: Path) -> None:
    plant = make_plant(tmp_path)
    make_certificate(
        certificate_path=plant.plc_cert,
        private_key_path=plant.plc_key,
        application_uri="urn:ashp-line:simulator",
        common_name="Leak test PLC",
        hostnames=["localhost"],
        valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        valid_days=365,
    )
    shutil.copy(plant.plc_cert, plant.trusted / "plc.der")

    async def scenario() -> None:
        backend = MemoryBackend(route=("ST-1",))
        async with rig(
            ["ST-1"], backend=backend, security=plant.mes_settings(), server_security=plant.plc_security()
        ) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            problem = r.supervisor.status("ST-1").problem
            assert "expired on 2024-12-31" in problem and "renew it on the PLC" in problem, problem

    run(scenario)
