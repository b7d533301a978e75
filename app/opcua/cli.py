"""``mes opcua make-cert|rotate-cert|trust`` and ``mes simulate``: registered into the app's argparse command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from app.opcua.security import fingerprint, make_mes_certificate
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig
from app.opcua.simulator.server import ServerSecurity
from app.opcua.trust import (
    CertificateProblem,
    TrustStore,
    default_rejected_dir,
    previous_path,
    read_certificate,
    roll_back_certificate,
    rotate_certificate,
)


def register_cli(subparsers: Any) -> None:
    """Add ``opcua make-cert`` and ``simulate`` to the ``mes`` command (handlers return an exit code)."""
    opcua = subparsers.add_parser("opcua", help="OPC UA adapter tools")
    opcua_sub = opcua.add_subparsers(dest="opcua_command", required=True)
    cert = opcua_sub.add_parser("make-cert", help="create the MES application certificate for the PLCs' trust lists")
    cert.add_argument("--cert", type=Path, default=Path("data/opcua/mes-cert.der"), help="certificate (DER)")
    cert.add_argument("--key", type=Path, default=Path("data/opcua/mes-key.pem"), help="private key (PEM)")
    cert.add_argument("--application-uri", default="urn:ashp-line:mes")
    cert.add_argument("--hostname", action="append", default=[], help="DNS name in the certificate (repeatable)")
    cert.add_argument("--days", type=int, default=3650)
    cert.add_argument("--force", action="store_true", help="replace an existing certificate")
    cert.set_defaults(func=_make_cert)

    rotate = opcua_sub.add_parser(
        "rotate-cert", help="replace the MES certificate by a new one (the old one is kept as *.previous)"
    )
    rotate.add_argument("--cert", type=Path, default=None, help="certificate (default: MES_OPCUA__CERTIFICATE_PATH)")
    rotate.add_argument("--key", type=Path, default=None, help="private key (default: MES_OPCUA__PRIVATE_KEY_PATH)")
    rotate.add_argument("--days", type=int, default=3650)
    rotate.add_argument("--rollback", action="store_true", help="swap back to the *.previous certificate and key")
    rotate.set_defaults(func=_rotate_cert)

    dirs = argparse.ArgumentParser(add_help=False)
    dirs.add_argument("--trust-dir", type=Path, default=None, help="default: MES_OPCUA__TRUST_DIR")
    dirs.add_argument("--rejected-dir", type=Path, default=None, help="default: MES_OPCUA__REJECTED_DIR")
    trust = opcua_sub.add_parser("trust", help="the PLC server certificates the MES trusts")
    trust_sub = trust.add_subparsers(dest="trust_command", required=True)
    add = trust_sub.add_parser("add", parents=[dirs], help="trust a PLC's exported server certificate (DER or PEM)")
    add.add_argument("file", type=Path)
    add.set_defaults(func=_trust_add)
    listing = trust_sub.add_parser("list", parents=[dirs], help="trusted and rejected certificates")
    listing.set_defaults(func=_trust_list)
    remove = trust_sub.add_parser("remove", parents=[dirs], help="stop trusting a certificate")
    remove.add_argument("thumbprint", help="SHA-256 or SHA-1 thumbprint, or its first 8+ hex digits")
    remove.set_defaults(func=_trust_remove)

    sim = subparsers.add_parser("simulate", help="run a simulated line of station PLCs (OPC UA servers)")
    sim.add_argument("--line-id", default="LINE-1")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=4840)
    sim.add_argument("--model", default="HPM-06-R290-EVI")
    sim.add_argument("--work-order", default="WO-DEMO-R290")
    sim.add_argument("--serial-prefix", default="HP26-")
    sim.add_argument("--first-serial", type=int, default=1, help="number of the first serial (7 digits)")
    sim.add_argument("--units", type=int, default=500)
    sim.add_argument("--takt-s", type=float, default=120.0, help="plant seconds between units")
    sim.add_argument("--time-scale", type=float, default=600.0, help="plant seconds per real second")
    sim.add_argument("--fault-rate", type=float, default=0.10)
    sim.add_argument("--faults", default="", help="comma-separated fault kinds (default: all)")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--truth-out", type=Path, default=None, help="write the ground truth per serial (JSON)")
    sim.add_argument("--cert", type=Path, default=None, help="server certificate: offer Basic256Sha256")
    sim.add_argument("--key", type=Path, default=None)
    sim.add_argument("--trusted-clients", type=Path, default=None, help="directory of trusted client certificates")
    sim.add_argument("--user", action="append", default=[], help="NAME:PASSWORD accepted (repeatable)")
    sim.add_argument("--no-none", action="store_true", help="do not offer security mode None")
    sim.set_defaults(func=_simulate)


def _make_cert(args: argparse.Namespace) -> int:
    if args.cert.exists() and not args.force:
        print(f"{args.cert} exists; use --force to replace it")
        return 1
    cert = make_mes_certificate(
        certificate_path=args.cert,
        private_key_path=args.key,
        application_uri=args.application_uri,
        hostnames=args.hostname or [socket.gethostname()],
        valid_days=args.days,
    )
    print(f"MES certificate {args.cert} (key {args.key}), SHA-256 {fingerprint(cert)}")
    print("install the certificate file in each PLC's trust list")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _mes_certificate_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    from app.config import get_settings

    o = get_settings().opcua
    return (
        args.cert or o.certificate_path or Path("data/opcua/mes-cert.der"),
        args.key or o.private_key_path or Path("data/opcua/mes-key.pem"),
    )


def _rotate_cert(args: argparse.Namespace) -> int:
    cert_path, key_path = _mes_certificate_paths(args)
    try:
        if args.rollback:
            rotation = roll_back_certificate(certificate_path=cert_path, private_key_path=key_path)
        else:
            rotation = rotate_certificate(certificate_path=cert_path, private_key_path=key_path, valid_days=args.days)
    except CertificateProblem as exc:
        return _fail(f"{exc} (nothing changed)")
    new, old = rotation.new, rotation.old
    print(f"MES certificate {'rolled back' if args.rollback else 'rotated'}: {cert_path} (key {key_path})")
    print(*(f"  {line}" for line in new.describe()), sep="\n")
    print(f"  the certificate it replaced (SHA-256 {old.sha256}) is kept as {previous_path(cert_path)}")
    print("For the PLC engineer:")
    print(f"  1. install {cert_path} (SHA-1 {new.sha1}) in every PLC's trust list, beside the old certificate;")
    print("  2. the MES presents it from its next connection to each PLC (after a link loss; restart the MES")
    print("     to switch every station now); a PLC that does not trust it yet is an alarm until it does;")
    print(f"  3. once every station is connected again, remove the old certificate (SHA-1 {old.sha1}) from the PLCs.")
    print("Roll back with 'mes opcua rotate-cert --rollback'.")
    return 0


def _trust_dirs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    from app.config import get_settings

    o = get_settings().opcua
    trust_dir = args.trust_dir or o.trust_dir
    return trust_dir, args.rejected_dir or o.rejected_dir or default_rejected_dir(trust_dir)


NO_TRUST_DIR = "no trust directory: set MES_OPCUA__TRUST_DIR (the directory the MES reads) or pass --trust-dir"


def _trust_add(args: argparse.Namespace) -> int:
    trust_dir, rejected_dir = _trust_dirs(args)
    if trust_dir is None:
        return _fail(NO_TRUST_DIR)
    try:
        cert = read_certificate(args.file)
    except CertificateProblem as exc:
        return _fail(str(exc))
    try:
        stored = TrustStore(trust_dir).add(cert)
    except CertificateProblem as exc:
        return _fail(f"{args.file}: {exc}")
    print(f"trusted: {stored.path}")
    print(*(f"  {line}" for line in stored.info.describe()), sep="\n")
    if stored.info.application_uri is None:
        print("  warning: no ApplicationUri: OPC UA servers put theirs in the certificate; is this the right file?")
    print("  compare the thumbprint with the one the PLC shows; the MES uses it at its next connection attempt")
    if rejected_dir is not None and rejected_dir.is_dir():
        for entry in TrustStore(rejected_dir).find(stored.info.sha256):
            entry.path.unlink(missing_ok=True)
    return 0


def _trust_list(args: argparse.Namespace) -> int:
    trust_dir, rejected_dir = _trust_dirs(args)
    if trust_dir is None:
        return _fail(NO_TRUST_DIR)
    for title, directory in (("trusted", trust_dir), ("rejected", rejected_dir)):
        if directory is None:
            continue
        good, bad = TrustStore(directory).entries()
        print(f"{title} ({directory}): {len(good)}")
        for entry in good:
            print(f"- {entry.path.name}")
            print(*(f"  {line}" for line in entry.info.describe()), sep="\n")
        for path, problem in bad:
            print(f"- {path.name}: unreadable, ignored ({problem})")
    return 0


def _trust_remove(args: argparse.Namespace) -> int:
    trust_dir, _rejected = _trust_dirs(args)
    if trust_dir is None:
        return _fail(NO_TRUST_DIR)
    try:
        removed = TrustStore(trust_dir).remove(args.thumbprint)
    except CertificateProblem as exc:
        return _fail(str(exc))
    if not removed:
        return _fail(f"no trusted certificate has the thumbprint {args.thumbprint} ('mes opcua trust list')")
    for entry in removed:
        print(f"removed: {entry.path} ({entry.info.subject}, SHA-256 {entry.info.sha256})")
    print("the MES refuses this certificate from its next connection attempt")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.opcua.simulator.run import run_simulated_line

    kinds = tuple(Fault(k) for k in args.faults.split(",") if k) or tuple(Fault)
    users = dict(u.split(":", 1) for u in args.user)
    config = LineConfig(
        line_id=args.line_id,
        host=args.host,
        port=args.port,
        model_code=args.model,
        work_order=args.work_order,
        serial_prefix=args.serial_prefix,
        first_serial_number=args.first_serial,
        units=args.units,
        takt_s=args.takt_s,
        time_scale=args.time_scale,
        fault_rate=args.fault_rate,
        fault_kinds=kinds,
        seed=args.seed,
        security=ServerSecurity(
            offer_none=not args.no_none,
            certificate_path=args.cert,
            private_key_path=args.key,
            trusted_clients_dir=args.trusted_clients,
            users=users,
        ),
    )
    try:
        summary = asyncio.run(run_simulated_line(config, truth_path=args.truth_out))
    except KeyboardInterrupt:
        return 130
    print(json.dumps(summary, indent=1))
    return 0
