"""``mes opcua make-cert`` and ``mes simulate``: registered into the app's argparse command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

from app.opcua.security import fingerprint, make_mes_certificate
from app.opcua.simulator.faults import Fault
from app.opcua.simulator.line import LineConfig
from app.opcua.simulator.server import ServerSecurity


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
