"""``mes opcua trust add|list|remove`` and ``mes opcua rotate-cert``: what the engineer types and reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.cli import build_parser
from app.opcua.security import make_certificate, make_mes_certificate
from app.opcua.trust import certificate_info, read_certificate


def mes(argv: list[str]) -> int:
    """Run ``mes …`` in this process, through the real command tree."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def plc_certificate(root: Path, name: str = "plc", **kwargs: object) -> Path:
    path = root / f"{name}.der"
    make_certificate(
        certificate_path=path,
        private_key_path=root / f"{name}.key.pem",
        application_uri=f"urn:plant:{name}",
        common_name=f"PLC {name}",
        hostnames=["localhost"],
        **kwargs,  # type: ignore[arg-type]
    )
    return path


def test_trust_add_shows_identity_and_stores_der_or_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    der = plc_certificate(tmp_path, "press")
    pem = tmp_path / "leak.pem"
    pem.write_bytes(read_certificate(plc_certificate(tmp_path, "leak")).public_bytes(serialization.Encoding.PEM))
    trusted = tmp_path / "trusted"

    assert mes(["opcua", "trust", "add", str(der), "--trust-dir", str(trusted)]) == 0
    out = capsys.readouterr().out
    info = certificate_info(read_certificate(der))
    for shown in ("CN=PLC press", "urn:plant:press", info.sha256, info.sha1, f"{info.not_after:%Y-%m-%d}"):
        assert shown in out, shown
    assert mes(["opcua", "trust", "add", str(pem), "--trust-dir", str(trusted)]) == 0
    assert mes(["opcua", "trust", "add", str(der), "--trust-dir", str(trusted)]) == 0  # idempotent
    stored = sorted(certificate_info(read_certificate(p)).sha256 for p in trusted.iterdir())
    assert stored == sorted([info.sha256, certificate_info(read_certificate(pem)).sha256])


@pytest.mark.parametrize(
    ("kind", "words"),
    [("expired", "expired on"), ("not yet valid", "not valid yet"), ("malformed", "not an X.509 certificate")],
)
def test_trust_add_refuses_an_unusable_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, words: str
):
    now = dt.datetime.now(dt.UTC)
    if kind == "expired":
        path = plc_certificate(tmp_path, valid_from=now - dt.timedelta(days=30), valid_days=10)
    elif kind == "not yet valid":
        path = plc_certificate(tmp_path, valid_from=now + dt.timedelta(days=2))
    else:
        path = tmp_path / "plc.der"
        path.write_bytes(b"this is the PLC's manual, not its certificate")
    trusted = tmp_path / "trusted"

    assert mes(["opcua", "trust", "add", str(path), "--trust-dir", str(trusted)]) == 1
    assert words in capsys.readouterr().err
    assert not trusted.exists() or not any(trusted.iterdir())


def test_trust_list_shows_trusted_rejected_and_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    trusted, rejected = tmp_path / "opcua" / "trusted", tmp_path / "opcua" / "rejected"
    assert mes(["opcua", "trust", "add", str(plc_certificate(tmp_path, "press")), "--trust-dir", str(trusted)]) == 0
    rejected.mkdir()
    (rejected / "stranger.der").write_bytes(
        read_certificate(plc_certificate(tmp_path, "stranger")).public_bytes(serialization.Encoding.DER)
    )
    (trusted / "junk.der").write_bytes(b"junk")
    capsys.readouterr()

    assert mes(["opcua", "trust", "list", "--trust-dir", str(trusted)]) == 0
    out = capsys.readouterr().out
    trusted_part, rejected_part = out.split("rejected (")
    assert "trusted (" in trusted_part and ": 1" in trusted_part and "CN=PLC press" in trusted_part
    assert "junk.der: unreadable, ignored" in trusted_part
    assert "CN=PLC stranger" in rejected_part and "CN=PLC press" not in rejected_part


def test_trust_remove_by_the_thumbprint_a_plc_tool_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    trusted = tmp_path / "trusted"
    keep, drop = plc_certificate(tmp_path, "keep"), plc_certificate(tmp_path, "drop")
    for path in (keep, drop):
        assert mes(["opcua", "trust", "add", str(path), "--trust-dir", str(trusted)]) == 0
    sha1 = certificate_info(read_certificate(drop)).sha1
    as_shown = ":".join(sha1[i : i + 2] for i in range(0, 40, 2)).upper()

    assert mes(["opcua", "trust", "remove", "0123456789", "--trust-dir", str(trusted)]) == 1
    assert "no trusted certificate" in capsys.readouterr().err
    assert mes(["opcua", "trust", "remove", "12", "--trust-dir", str(trusted)]) == 1
    assert "at least 8 hex digits" in capsys.readouterr().err
    assert mes(["opcua", "trust", "remove", as_shown, "--trust-dir", str(trusted)]) == 0
    remaining = [certificate_info(read_certificate(p)).common_name for p in trusted.iterdir()]
    assert remaining == ["PLC keep"]


def test_trust_commands_need_a_trust_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    from app.config import get_settings

    monkeypatch.delenv("MES_OPCUA__TRUST_DIR", raising=False)
    get_settings.cache_clear()
    try:
        assert mes(["opcua", "trust", "list"]) == 1
    finally:
        get_settings.cache_clear()
    assert "MES_OPCUA__TRUST_DIR" in capsys.readouterr().err


def test_rotate_cert_keeps_identity_and_the_previous_pair_for_roll_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    cert, key = tmp_path / "mes-cert.der", tmp_path / "mes-key.pem"
    make_mes_certificate(certificate_path=cert, private_key_path=key, hostnames=["mes-host"])
    old_cert, old_key = cert.read_bytes(), key.read_bytes()
    old = certificate_info(read_certificate(cert))

    assert mes(["opcua", "rotate-cert", "--cert", str(cert), "--key", str(key)]) == 0
    out = capsys.readouterr().out
    new = certificate_info(read_certificate(cert))
    assert new.sha256 != old.sha256 and new.sha256 in out and new.sha1 in out and old.sha1 in out
    assert "install" in out and "trust list" in out
    assert (new.application_uri, new.common_name, new.dns_names) == (
        old.application_uri,
        old.common_name,
        ("mes-host",),
    )
    assert (tmp_path / "mes-cert.der.previous").read_bytes() == old_cert
    assert (tmp_path / "mes-key.pem.previous").read_bytes() == old_key
    assert key.read_bytes() != old_key and key.stat().st_mode & 0o077 == 0

    assert mes(["opcua", "rotate-cert", "--rollback", "--cert", str(cert), "--key", str(key)]) == 0
    assert cert.read_bytes() == old_cert and key.read_bytes() == old_key


def test_rotate_cert_without_a_certificate_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cert, key = tmp_path / "mes-cert.der", tmp_path / "mes-key.pem"
    assert mes(["opcua", "rotate-cert", "--cert", str(cert), "--key", str(key)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
