"""Security of the MES client: its application certificate, the server trust list, and clear refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
from collections.abc import Sequence
from pathlib import Path

from asyncua import Client, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.opcua.master_data import SecuritySettings

BASIC256SHA256_URI = SecurityPolicyBasic256Sha256.URI


class EndpointRefused(Exception):
    """An endpoint cannot be served as configured; the message is meant for the operator."""


class SecurityRefused(EndpointRefused):
    """A connection was refused for a security reason; the message is meant for the operator."""


def make_certificate(
    *,
    certificate_path: Path,
    private_key_path: Path,
    application_uri: str,
    common_name: str,
    hostnames: Sequence[str] = (),
    valid_days: int = 3650,
    key_size_bits: int = 2048,
) -> x509.Certificate:
    """Create a self-signed OPC UA application instance certificate (DER) and its key (PEM).

    The ApplicationUri goes into the SubjectAlternativeName, as OPC UA requires; the key usages are
    those Basic256Sha256 needs.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size_bits)
    names = list(hostnames) or [socket.gethostname()]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(application_uri), *(x509.DNSName(h) for h in names)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_path.parent.mkdir(parents=True, exist_ok=True)
    private_key_path.parent.mkdir(parents=True, exist_ok=True)
    certificate_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    private_key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_key_path.chmod(0o600)
    return cert


def make_mes_certificate(
    *,
    certificate_path: Path,
    private_key_path: Path,
    application_uri: str = "urn:ashp-line:mes",
    common_name: str = "ASHP line MES",
    hostnames: Sequence[str] = (),
    valid_days: int = 3650,
) -> x509.Certificate:
    """Create the MES's application certificate (what ``mes opcua make-cert`` runs)."""
    return make_certificate(
        certificate_path=certificate_path,
        private_key_path=private_key_path,
        application_uri=application_uri,
        common_name=common_name,
        hostnames=hostnames,
        valid_days=valid_days,
    )


def load_certificate_file(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate's DER encoding, hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class TrustList:
    """Certificates trusted by exact match: every ``.der``/``.pem``/``.crt`` file in one directory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def fingerprints(self) -> set[str]:
        if self.directory is None or not self.directory.is_dir():
            return set()
        found = set()
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() in {".der", ".pem", ".crt"}:
                try:
                    found.add(fingerprint(load_certificate_file(path)))
                except ValueError:
                    continue
        return found

    def check(self, cert: x509.Certificate) -> None:
        """Raise :class:`SecurityRefused` unless the certificate is in the list and currently valid."""
        now = dt.datetime.now(dt.UTC)
        subject = cert.subject.rfc4514_string()
        if fingerprint(cert) not in self.fingerprints():
            raise SecurityRefused(
                f"server certificate '{subject}' (SHA-256 {fingerprint(cert)[:16]}…) is not in the MES "
                f"trust list {self.directory}: copy it there if this PLC is genuine"
            )
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SecurityRefused(f"server certificate '{subject}' is outside its validity period")

    async def __call__(self, cert: x509.Certificate, app_description: ua.ApplicationDescription) -> None:
        """asyncua certificate-validator hook: refuse untrusted servers during CreateSession."""
        try:
            self.check(cert)
        except SecurityRefused as exc:
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted) from exc


async def configure_client_security(*, client: Client, settings: SecuritySettings) -> str:
    """Set up a client for ``settings``; return the security mode it will use ('None' or 'SignAndEncrypt').

    With a certificate: Basic256Sha256/SignAndEncrypt, the server certificate checked against the
    trust list before any session (and again by CreateSession). Without one: ``None``, but only when
    the settings allow it.
    """
    client.application_uri = settings.application_uri
    client.name = settings.application_name
    client.description = settings.application_name
    if settings.username:
        client.set_user(settings.username)
        client.set_password(settings.password or "")
    if not settings.has_certificate:
        if not settings.allow_none:
            raise SecurityRefused(
                "no MES certificate configured and security mode None is not allowed "
                "(create one with 'mes opcua make-cert')"
            )
        return "None"
    assert settings.certificate_path is not None and settings.private_key_path is not None
    trust = TrustList(settings.trust_dir)
    endpoints = await client.connect_and_get_server_endpoints()
    wanted = [
        e
        for e in endpoints
        if e.SecurityPolicyUri == BASIC256SHA256_URI and e.SecurityMode == ua.MessageSecurityMode.SignAndEncrypt
    ]
    if not wanted:
        if settings.allow_none and any(e.SecurityMode == ua.MessageSecurityMode.None_ for e in endpoints):
            return "None"
        raise SecurityRefused("the endpoint offers no Basic256Sha256 SignAndEncrypt security")
    server_der = _first_certificate(wanted[0].ServerCertificate)
    trust.check(x509.load_der_x509_certificate(server_der))
    client.certificate_validator = trust
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        certificate=str(settings.certificate_path),
        private_key=str(settings.private_key_path),
        server_certificate=server_der,
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    return "SignAndEncrypt"


def _first_certificate(der: bytes) -> bytes:
    """The leaf certificate of a DER chain (servers may send their chain concatenated)."""
    length = int.from_bytes(der[2:4], "big") + 4
    return der[:length]


def explain_connect_failure(exc: BaseException) -> str | None:
    """An operator message when a connect failed for a security reason, else None (plain network loss)."""
    if isinstance(exc, EndpointRefused):
        return str(exc)
    if isinstance(exc, AssertionError):
        # asyncua 2.1 raises a bare AssertionError when the server drops the secure channel it refused
        return (
            "the PLC refused the secure connection: is the MES certificate in the PLC's trust list "
            "and does the PLC accept Basic256Sha256 SignAndEncrypt?"
        )
    if isinstance(exc, ua.UaStatusCodeError):
        name = ua.StatusCode(exc.code).name
        if name in {
            "BadCertificateUntrusted",
            "BadCertificateInvalid",
            "BadCertificateTimeInvalid",
            "BadCertificateUriInvalid",
            "BadCertificateUseNotAllowed",
            "BadSecurityChecksFailed",
            "BadCertificateRevoked",
            "BadSecurityPolicyRejected",
            "BadNoValidCertificates",
        }:
            # the MES checked the server certificate before connecting, so this refusal is the PLC's
            return (
                f"the PLC refused the MES certificate ({name}): install the MES certificate "
                "(exported by 'mes opcua make-cert') in the PLC's trust list"
            )
        if name in {
            "BadUserAccessDenied",
            "BadIdentityTokenRejected",
            "BadIdentityTokenInvalid",
            "BadUserSignatureInvalid",
        }:
            return f"the PLC refused the MES user name or password ({name})"
    if isinstance(exc, ua.UaError) and "endpoint" in str(exc).lower():
        return f"no matching secure endpoint: {exc}"
    return None
