"""The MES's OPC UA trust store, its rejected certificates, and rotation of the MES's own certificate.

Plain files, so that an engineer can see what the MES trusts: every certificate in the trust directory
is trusted by exact match; a server certificate the MES refused is kept in the rejected directory until
someone trusts it (``mes opcua trust add``). Nothing here talks to a PLC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

CERTIFICATE_SUFFIXES = frozenset({".der", ".pem", ".crt", ".cer"})
PREVIOUS_SUFFIX = ".previous"
MIN_THUMBPRINT_PREFIX = 8


class CertificateProblem(ValueError):
    """A certificate file cannot be used; the message says why in an engineer's words."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What an engineer compares with the PLC's display before trusting a certificate."""

    subject: str
    common_name: str
    application_uri: str | None
    dns_names: tuple[str, ...]
    sha256: str
    sha1: str
    not_before: dt.datetime
    not_after: dt.datetime

    def validity_problem(self, now: dt.datetime) -> str | None:
        """Why the certificate is not valid at ``now``, or None."""
        if now < self.not_before:
            return f"is not valid yet (valid from {self.not_before:%Y-%m-%d %H:%M} UTC)"
        if now > self.not_after:
            return f"expired on {self.not_after:%Y-%m-%d %H:%M} UTC"
        return None

    def expires_within(self, days: int, now: dt.datetime) -> bool:
        return self.not_after - now <= dt.timedelta(days=days)

    def describe(self) -> list[str]:
        """Human-readable lines: subject, ApplicationUri, thumbprints, validity."""
        return [
            f"subject:        {self.subject}",
            f"ApplicationUri: {self.application_uri or '(none: not an OPC UA application certificate)'}",
            f"SHA-256:        {self.sha256}",
            f"SHA-1:          {self.sha1}",
            f"valid:          {self.not_before:%Y-%m-%d %H:%M} to {self.not_after:%Y-%m-%d %H:%M} UTC",
        ]


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        uris, dns_names = [], ()
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        common_name=str(common_names[0].value) if common_names else "",
        application_uri=uris[0] if uris else None,
        dns_names=dns_names,
        sha256=hashlib.sha256(der).hexdigest(),
        sha1=hashlib.sha1(der, usedforsecurity=False).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def read_certificate(path: Path) -> x509.Certificate:
    """Load one X.509 certificate, DER or PEM; :class:`CertificateProblem` when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateProblem(f"{path} is not an X.509 certificate in DER or PEM format ({exc})") from exc


def normalize_thumbprint(text: str) -> str:
    """Lower-case hex without the separators PLC tools print (``AB:CD``, ``ab cd``)."""
    return re.sub(r"[\s:\-]", "", text).lower()


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    path: Path
    info: CertificateInfo


class TrustStore:
    """A directory of certificates, each trusted by exact match (the MES's trust list, or rejected ones)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entries(self) -> tuple[list[StoredCertificate], list[tuple[Path, str]]]:
        """The readable certificates, and the files that are not certificates (with the reason)."""
        good: list[StoredCertificate] = []
        bad: list[tuple[Path, str]] = []
        if not self.directory.is_dir():
            return good, bad
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() not in CERTIFICATE_SUFFIXES:
                continue
            try:
                good.append(StoredCertificate(path, certificate_info(read_certificate(path))))
            except CertificateProblem as exc:
                bad.append((path, str(exc)))
        return good, bad

    def find(self, thumbprint: str) -> list[StoredCertificate]:
        """Entries whose SHA-256 or SHA-1 thumbprint starts with ``thumbprint`` (separators ignored)."""
        wanted = normalize_thumbprint(thumbprint)
        if len(wanted) < MIN_THUMBPRINT_PREFIX or not re.fullmatch(r"[0-9a-f]+", wanted):
            raise CertificateProblem(
                f"'{thumbprint}' is not a thumbprint: give at least {MIN_THUMBPRINT_PREFIX} hex digits "
                "of the SHA-256 or SHA-1 thumbprint ('mes opcua trust list' shows them)"
            )
        good, _bad = self.entries()
        return [e for e in good if e.info.sha256.startswith(wanted) or e.info.sha1.startswith(wanted)]

    def add(self, cert: x509.Certificate, *, check_validity: bool = True) -> StoredCertificate:
        """Store ``cert`` (as DER) unless it is outside its validity period; idempotent."""
        info = certificate_info(cert)
        problem = info.validity_problem(dt.datetime.now(dt.UTC))
        if check_validity and problem is not None:
            raise CertificateProblem(f"refused: the certificate {problem}")
        for entry in self.entries()[0]:
            if entry.info.sha256 == info.sha256:
                return entry
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / certificate_file_name(info)
        _write_atomically(path, cert.public_bytes(serialization.Encoding.DER))
        return StoredCertificate(path, info)

    def remove(self, thumbprint: str) -> list[StoredCertificate]:
        """Delete the certificate with this thumbprint (prefix); refuses an ambiguous prefix."""
        matches = self.find(thumbprint)
        if len({m.info.sha256 for m in matches}) > 1:
            raise CertificateProblem(
                f"'{thumbprint}' matches {len(matches)} certificates: give more digits of the thumbprint"
            )
        for match in matches:
            match.path.unlink(missing_ok=True)
        return matches


def certificate_file_name(info: CertificateInfo) -> str:
    """``<common name>_<SHA-256 prefix>.der``: readable, unique per certificate, no spaces."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", info.common_name).strip("_") or "certificate"
    return f"{name[:40]}_{info.sha256[:16]}.der"


def default_rejected_dir(trust_dir: Path | None) -> Path | None:
    """Where refused server certificates are kept when no directory is configured: beside the trust list."""
    return None if trust_dir is None else trust_dir.parent / "rejected"


def store_rejected(cert: x509.Certificate, directory: Path) -> Path:
    """Keep a refused server certificate so an engineer can inspect it and trust it; returns its path."""
    return TrustStore(directory).add(cert, check_validity=False).path


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


# --- the MES's own certificate -------------------------------------------------------------------


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


@dataclass(frozen=True, slots=True)
class Rotation:
    old: CertificateInfo
    new: CertificateInfo


def rotate_certificate(*, certificate_path: Path, private_key_path: Path, valid_days: int) -> Rotation:
    """Replace the MES certificate and key by new ones with the same identity; keep the old as ``*.previous``.

    The new pair is written beside the old and moved into place, so a reader sees the old pair or the new one.
    """
    from app.opcua.security import make_certificate

    old = certificate_info(read_certificate(certificate_path))
    if not private_key_path.is_file():
        raise CertificateProblem(f"the MES private key {private_key_path} does not exist")
    if old.application_uri is None:
        raise CertificateProblem(f"{certificate_path} has no ApplicationUri: create a new one with make-cert")
    new_cert, new_key = (p.with_name(p.name + ".new") for p in (certificate_path, private_key_path))
    cert = make_certificate(
        certificate_path=new_cert,
        private_key_path=new_key,
        application_uri=old.application_uri,
        common_name=old.common_name or "ASHP line MES",
        hostnames=old.dns_names,
        valid_days=valid_days,
    )
    shutil.copy2(certificate_path, previous_path(certificate_path))
    shutil.copy2(private_key_path, previous_path(private_key_path))
    os.replace(new_key, private_key_path)
    os.replace(new_cert, certificate_path)
    return Rotation(old=old, new=certificate_info(cert))


def roll_back_certificate(*, certificate_path: Path, private_key_path: Path) -> Rotation:
    """Swap the MES certificate and key with their ``*.previous`` (a second roll-back rolls forward again)."""
    pairs: Sequence[Path] = (certificate_path, private_key_path)
    for path in pairs:
        if not previous_path(path).is_file():
            raise CertificateProblem(f"no {previous_path(path)} to roll back to")
    current = certificate_info(read_certificate(certificate_path))
    for path in pairs:
        parked = path.with_name(path.name + ".swap")
        os.replace(path, parked)
        os.replace(previous_path(path), path)
        os.replace(parked, previous_path(path))
    return Rotation(old=current, new=certificate_info(read_certificate(certificate_path)))
