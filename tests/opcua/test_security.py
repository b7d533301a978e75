"""Basic256Sha256 SignAndEncrypt with certificates and a user name; every refusal is a clear alarm."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncua import Server, ua

from app.opcua.master_data import SecuritySettings
from app.opcua.security import make_certificate, make_mes_certificate
from app.opcua.simulator.server import ServerSecurity
from tests.opcua.conftest import eventually, run
from tests.opcua.harness import rig
from tests.opcua.memory_backend import MemoryBackend


@dataclass(frozen=True)
class Pki:
    mes_cert: Path
    mes_key: Path
    plc_cert: Path
    plc_key: Path
    mes_trust: Path  # holds the PLC certificate
    plc_trust: Path  # holds the MES certificate
    empty: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    mes_cert, mes_key = root / "mes.der", root / "mes.pem"
    plc_cert, plc_key = root / "plc.der", root / "plc.pem"
    make_mes_certificate(certificate_path=mes_cert, private_key_path=mes_key, hostnames=["localhost"])
    make_certificate(
        certificate_path=plc_cert,
        private_key_path=plc_key,
        application_uri="urn:ashp-line:simulator",
        common_name="PLC",
        hostnames=["localhost"],
    )
    for name, cert in (("mes-trust", plc_cert), ("plc-trust", mes_cert)):
        (root / name).mkdir()
        shutil.copy(cert, root / name / cert.name)
    (root / "empty").mkdir()
    return Pki(mes_cert, mes_key, plc_cert, plc_key, root / "mes-trust", root / "plc-trust", root / "empty")


def _server(pki: Pki, *, trusted: Path | None = None, offer_none: bool = False) -> ServerSecurity:
    return ServerSecurity(
        offer_none=offer_none,
        certificate_path=pki.plc_cert,
        private_key_path=pki.plc_key,
        trusted_clients_dir=trusted or pki.plc_trust,
        users={"mes": "s3cret"},
    )


def _mes(pki: Pki, *, trust: Path | None = None, password: str = "s3cret") -> SecuritySettings:
    return SecuritySettings(
        certificate_path=pki.mes_cert,
        private_key_path=pki.mes_key,
        trust_dir=trust or pki.mes_trust,
        username="mes",
        password=password,
    )


def test_handshake_runs_over_sign_and_encrypt_with_user_name(pki: Pki):
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, security=_mes(pki), server_security=_server(pki)) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="secure connect")
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release

    run(scenario)


def _assert_refused(pki: Pki, *, security: SecuritySettings, server: ServerSecurity, words: str) -> None:
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, security=security, server_security=server) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "refused", what="refusal")
            status = r.supervisor.status("ST-1")
            assert words in status.problem, status.problem
            assert any(words in message for _, message in backend.alarms), backend.alarms
            assert "AssertionError" not in status.problem

    run(scenario)


def test_untrusted_server_certificate_is_refused_with_an_alarm(pki: Pki):
    _assert_refused(pki, security=_mes(pki, trust=pki.empty), server=_server(pki), words="not in the MES trust list")


def test_plc_refusing_the_mes_certificate_is_a_clear_alarm(pki: Pki):
    _assert_refused(
        pki, security=_mes(pki), server=_server(pki, trusted=pki.empty), words="PLC refused the MES certificate"
    )


def test_wrong_password_is_a_clear_alarm(pki: Pki):
    _assert_refused(pki, security=_mes(pki, password="wrong"), server=_server(pki), words="user name or password")


def test_security_none_is_refused_unless_allowed(pki: Pki):
    _assert_refused(pki, security=SecuritySettings(), server=_server(pki, offer_none=True), words="None is not allowed")


def test_endpoint_without_secure_policy_is_refused(pki: Pki):
    _assert_refused(
        pki, security=_mes(pki), server=ServerSecurity(offer_none=True), words="no Basic256Sha256 SignAndEncrypt"
    )


def test_a_session_uri_other_than_the_mes_certificates_is_refused_before_a_plc_would(pki: Pki):
    """A strict PLC refuses a session whose ApplicationUri is not the one in the client certificate, and
    says little about it; the MES checks first and names both URIs and the setting."""
    security = dataclasses.replace(_mes(pki), application_uri="urn:plant-7:mes")
    _assert_refused(pki, security=security, server=_server(pki), words="names ApplicationUri urn:ashp-line:mes")


def test_an_endpoint_offering_basic256sha256_sign_only_is_refused_not_used(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plc-interface.md: production endpoints use Basic256Sha256 with SignAndEncrypt. Sign alone would put
    the handshake values and the user's password token on the wire unencrypted: the MES does not settle."""
    set_security_policy = Server.set_security_policy

    def sign_only(self: Server, policies: list[ua.SecurityPolicyType], *args: object, **kwargs: object) -> None:
        policies = [
            ua.SecurityPolicyType.Basic256Sha256_Sign
            if policy == ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt
            else policy
            for policy in policies
        ]
        set_security_policy(self, policies, *args, **kwargs)

    monkeypatch.setattr(Server, "set_security_policy", sign_only)
    words = "no Basic256Sha256 SignAndEncrypt security (it offers Basic256Sha256/Sign)"
    _assert_refused(pki, security=_mes(pki), server=_server(pki), words=words)
