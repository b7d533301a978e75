"""Security of the MES client: its application certificate, the server trust list, and clear refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.opcua.master_data import SecuritySettings
from app.opcua.trust import CertificateProblem, TrustStore, certificate_info, read_certificate, store_rejected

logger = logging.getLogger(__name__)

BASIC256SHA256_URI = SecurityPolicyBasic256Sha256.URI


class EndpointRefused(Exception):
    """An endpoint cannot be served as configured; the message is meant for the operator."""


class SecurityRefused(EndpointRefused):
    """A connection was refused for a security reason; the message is meant for the operator."""


class CertificateNotTrusted(SecurityRefused):
    """The peer's certificate is not in the trust list."""


def make_certificate(
    *,
    certificate_path: Path,
    private_key_path: Path,
    application_uri: str,
    common_name: str,
    hostnames: Sequence[str] = (),
    valid_days: int = 3650,
    key_size_bits: int = 2048,
    valid_from: dt.datetime | None = None,
) -> x509.Certificate:
    """Create a self-signed OPC UA application instance certificate (DER) and its key (PEM).

    The ApplicationUri goes into the SubjectAlternativeName, as OPC UA requires; the key usages are
    those Basic256Sha256 needs.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size_bits)
    names = list(hostnames) or [socket.gethostname()]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = valid_from or dt.datetime.now(dt.UTC)
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
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # created readable by the owner only: never, not even for a moment, with the umask's permissions
    descriptor = os.open(private_key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        os.fchmod(key_file.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        key_file.write(pem)
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


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate's DER encoding, hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class TrustList:
    """Certificates trusted by exact match: every ``.der``/``.pem``/``.crt`` file in one directory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def fingerprints(self) -> set[str]:
        """SHA-256 of every certificate in the directory, read afresh: changes apply without a restart."""
        if self.directory is None:
            return set()
        return {entry.info.sha256 for entry in TrustStore(self.directory).entries()[0]}

    def check(self, cert: x509.Certificate) -> None:
        """Raise :class:`SecurityRefused` unless the certificate is in the list and currently valid."""
        now = dt.datetime.now(dt.UTC)
        subject = cert.subject.rfc4514_string()
        if fingerprint(cert) not in self.fingerprints():
            raise CertificateNotTrusted(
                f"server certificate '{subject}' (SHA-256 thumbprint {fingerprint(cert)}) is not in the MES "
                f"trust list {self.directory}"
            )
        problem = certificate_info(cert).validity_problem(now)
        if problem is not None:
            raise SecurityRefused(
                f"server certificate '{subject}' {problem}: renew it on the PLC (or set its clock) and trust the "
                "new one with 'mes opcua trust add FILE'"
            )

    async def __call__(self, cert: x509.Certificate, app_description: ua.ApplicationDescription) -> None:
        """asyncua certificate-validator hook: refuse untrusted servers during CreateSession.

        Raises :class:`SecurityRefused` itself (asyncua lets it through): a ``ServiceError`` here would read
        as the PLC refusing the MES, when it is the MES refusing the PLC.
        """
        self.check(cert)


@dataclass(frozen=True, slots=True)
class SecurityChoice:
    """How a client will connect: 'None' or 'SignAndEncrypt', and the server certificate it checked."""

    mode: str
    server_certificate: x509.Certificate | None = None


async def configure_client_security(*, client: Client, settings: SecuritySettings) -> SecurityChoice:
    """Set up a client for ``settings`` and say how it will connect.

    With a certificate: Basic256Sha256/SignAndEncrypt, the server certificate checked against the
    trust list before any session (and again by CreateSession); a refused one is kept in the rejected
    directory. Without one: ``None``, but only when the settings allow it. A MES with a certificate
    never falls back to ``None`` (an endpoint list without secure endpoints may come from a
    misconfigured PLC or from someone in between), and the user name and password are sent only
    inside a SignAndEncrypt session, never in clear. Files are read on every call, so a changed trust
    list or a rotated MES certificate applies at the next connect.
    """
    client.application_uri = settings.application_uri
    client.name = settings.application_name
    client.description = settings.application_name
    if not settings.has_certificate:
        if not settings.allow_none:
            raise SecurityRefused(
                "no MES certificate configured and security mode None is not allowed "
                "(create one with 'mes opcua make-cert')"
            )
        if settings.username:
            # the PLC would answer with a bare BadIdentityTokenRejected, which reads as a wrong password
            raise SecurityRefused(
                f"an OPC UA user name ({settings.username}) is configured but the MES has no certificate: the "
                "user name and password go only into SignAndEncrypt sessions, never in clear; configure the MES "
                "certificate ('mes opcua make-cert'), or remove MES_OPCUA__USERNAME for an anonymous None session"
            )
        return SecurityChoice("None")
    assert settings.certificate_path is not None and settings.private_key_path is not None
    _check_mes_certificate(
        settings.certificate_path, private_key_path=settings.private_key_path, application_uri=settings.application_uri
    )
    trust = TrustList(settings.trust_dir)
    endpoints = await client.connect_and_get_server_endpoints()
    wanted = [
        e
        for e in endpoints
        if e.SecurityPolicyUri == BASIC256SHA256_URI and e.SecurityMode == ua.MessageSecurityMode.SignAndEncrypt
    ]
    if not wanted:
        offered = sorted(
            {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name.rstrip('_')}" for e in endpoints}
        )
        raise SecurityRefused(
            f"the endpoint offers no Basic256Sha256 SignAndEncrypt security (it offers {', '.join(offered) or 'none'}):"
            " the MES has a certificate, so it does not fall back to security mode None (its password would cross "
            "the network in clear); configure Basic256Sha256 SignAndEncrypt on the PLC"
        )
    server_der = _first_certificate(wanted[0].ServerCertificate)
    try:
        server_certificate = x509.load_der_x509_certificate(server_der)
    except ValueError as exc:
        raise SecurityRefused(f"the server sent a malformed certificate ({exc})") from exc
    try:
        trust.check(server_certificate)
    except CertificateNotTrusted as exc:
        raise CertificateNotTrusted(
            _untrusted_advice(str(exc), server_certificate, settings.rejected_directory)
        ) from exc
    client.certificate_validator = trust
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        certificate=str(settings.certificate_path),
        private_key=str(settings.private_key_path),
        server_certificate=server_der,
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    if settings.username:
        client.set_user(settings.username)
        client.set_password(settings.password or "")
    return SecurityChoice("SignAndEncrypt", server_certificate)


def _check_mes_certificate(path: Path, *, private_key_path: Path, application_uri: str) -> None:
    """Refuse to connect with a MES certificate that is missing, malformed, outside its validity,
    naming another ApplicationUri than the session would carry (a PLC refuses that session, and its
    refusal rarely says why), or whose private key is missing or not its own (a half-copied rotation:
    the PLC answers with a bare BadTcpInternalError that looks like a network fault)."""
    try:
        certificate = read_certificate(path)
        info = certificate_info(certificate)
    except CertificateProblem as exc:
        raise SecurityRefused(
            f"the MES certificate cannot be used: {exc} (create one with 'mes opcua make-cert')"
        ) from exc
    _check_private_key(private_key_path, certificate=certificate, certificate_path=path)
    problem = info.validity_problem(dt.datetime.now(dt.UTC))
    if problem is not None:
        raise SecurityRefused(
            f"the MES certificate {path} {problem}: run 'mes opcua rotate-cert' and install the new "
            "certificate in the PLCs' trust lists"
        )
    if info.application_uri != application_uri:
        raise SecurityRefused(
            f"the MES certificate {path} names ApplicationUri {info.application_uri or '(none)'} but the MES's "
            f"sessions carry {application_uri} (MES_OPCUA__APPLICATION_URI), and a PLC refuses a session whose "
            "ApplicationUri is not its certificate's: set MES_OPCUA__APPLICATION_URI to the certificate's, or "
            "make a certificate for this one with 'mes opcua make-cert --application-uri'"
        )


def _check_private_key(path: Path, *, certificate: x509.Certificate, certificate_path: Path) -> None:
    """Refuse a MES private key that cannot be read or does not belong to the certificate."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecurityRefused(
            f"the MES private key {path} cannot be used ({reason}): it must be the unencrypted PEM key made "
            "with the certificate ('mes opcua make-cert' or 'mes opcua rotate-cert')"
        ) from exc
    mine = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if mine != theirs:
        raise SecurityRefused(
            f"the MES private key {path} does not belong to the MES certificate {certificate_path} (a rotation "
            "copied only one of the two?): configure the key made together with this certificate"
        )


def _untrusted_advice(refusal: str, cert: x509.Certificate, rejected_dir: Path | None) -> str:
    """The refusal, plus where the certificate was kept and the command that trusts it."""
    if rejected_dir is None:
        return f"{refusal}; no trust directory is configured (MES_OPCUA__TRUST_DIR)"
    try:
        kept = store_rejected(cert, rejected_dir)
    except OSError as exc:
        logger.error("cannot keep the rejected certificate in %s: %s", rejected_dir, exc)
        return f"{refusal}; if this PLC is genuine, trust its certificate with 'mes opcua trust add FILE'"
    return f"{refusal}; it was saved as {kept}: if this PLC is genuine, trust it with 'mes opcua trust add \"{kept}\"'"


def expiry_warnings(
    *, settings: SecuritySettings, server_certificate: x509.Certificate | None, now: dt.datetime | None = None
) -> list[str]:
    """Certificates of this connection that expire within ``settings.certificate_warn_days``."""
    now = now or dt.datetime.now(dt.UTC)
    warnings = []
    if settings.certificate_path is not None:
        try:
            mes = certificate_info(read_certificate(settings.certificate_path))
        except CertificateProblem:
            mes = None
        if mes is not None and mes.expires_within(settings.certificate_warn_days, now):
            warnings.append(
                f"the MES certificate (SHA-256 {mes.sha256[:16]}…) expires on {mes.not_after:%Y-%m-%d %H:%M} UTC: "
                "run 'mes opcua rotate-cert' and install the new certificate in the PLCs' trust lists"
            )
    if server_certificate is not None:
        server = certificate_info(server_certificate)
        if server.expires_within(settings.certificate_warn_days, now):
            warnings.append(
                f"the PLC's certificate '{server.subject}' (SHA-256 {server.sha256[:16]}…) expires on "
                f"{server.not_after:%Y-%m-%d %H:%M} UTC: renew it on the PLC and trust the new one with "
                "'mes opcua trust add FILE'"
            )
    return warnings


def _first_certificate(der: bytes) -> bytes:
    """The leaf certificate of a DER chain (servers may send their chain concatenated)."""
    length = int.from_bytes(der[2:4], "big") + 4
    return der[:length]


def explain_connect_failure(exc: BaseException, *, mes_certificate: Path | None = None) -> str | None:
    """An operator message when a connect failed for a security reason, else None (plain network loss).

    ``mes_certificate`` (the file the MES presented) is named in a PLC-side refusal, so that after a rotation
    the engineer sees which certificate the PLC must trust.
    """
    if isinstance(exc, EndpointRefused):
        return str(exc)
    if isinstance(exc, AssertionError):
        # asyncua 2.1 raises a bare AssertionError when the server drops the secure channel it refused
        return (
            "the PLC refused the secure connection (does it accept Basic256Sha256 SignAndEncrypt?): "
            + _install_advice(mes_certificate)
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
            return f"the PLC refused the MES certificate ({name}): {_install_advice(mes_certificate)}"
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


def _install_advice(mes_certificate: Path | None) -> str:
    if mes_certificate is None:
        return "install the MES certificate (exported by 'mes opcua make-cert') in the PLC's trust list"
    try:
        sha256 = certificate_info(read_certificate(mes_certificate)).sha256
    except CertificateProblem:
        return f"install the MES certificate {mes_certificate} in the PLC's trust list"
    return f"install the MES certificate {mes_certificate} (SHA-256 thumbprint {sha256}) in the PLC's trust list"
