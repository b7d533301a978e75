"""The `mes` command: serve, db upgrade, demo, masterdata (subsystems add their own commands)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import get_settings
from app.domain.actors import Actor


def _upgrade(_args: argparse.Namespace) -> int:
    from app.persistence import migrate

    url = get_settings().resolved_owner_database_url()
    migrate.upgrade(url)
    print(f"database at head: {_safe(url)}")
    return 0


def _grant_app_role(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from app.persistence.app_role import grant_app_role

    settings = get_settings()
    if settings.resolved_owner_database_url().startswith("sqlite"):
        print("SQLite has no roles: nothing to grant (the audit triggers still refuse changes)")
        return 0
    role = args.role or make_url(settings.resolved_database_url()).username
    if not role:
        print("error: name the role, or put it in MES_DATABASE_URL", file=sys.stderr)
        return 2
    url = settings.resolved_owner_database_url()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            tables = grant_app_role(conn, role)
    finally:
        engine.dispose()
    print(f"role {role} granted the app's privileges on {len(tables)} tables of {_safe(url)}")
    print("audit_event, e_signature: SELECT, INSERT only; the app role owns no table and cannot alter them")
    return 0


def _audit_verify(_args: argparse.Namespace) -> int:
    from app.services import audit

    with _session() as session, session.begin():
        check = audit.check_chain(session=session)
    if check.broken is not None:
        print(
            f"BROKEN: audit chain broken after {check.verified} verified events, first broken link at {check.broken}",
            file=sys.stderr,
        )
        return 1
    print(f"OK: audit chain of {check.verified} events is intact")
    return 0


SHOWN_NOT_REPRODUCED = 50


def _utc_instant(text: str) -> datetime:
    """An ISO 8601 instant; one without an offset is read as UTC."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time, e.g. 2026-11-29T06:00") from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _rederive(args: argparse.Namespace) -> int:
    from app.services.judging import default_expectations
    from app.services.rederive import rederive_many

    def progress(done: int, total: int) -> None:
        print(f"re-derived {done:,} of {total:,} verdicts", file=sys.stderr, flush=True)

    with _session() as session, session.begin():
        summary = rederive_many(
            session=session,
            expectations=default_expectations(),
            serial_format=get_settings().serial.format(),
            serial=args.serial,
            work_order=args.work_order,
            since=args.since,
            until=args.until,
            everything=args.all,
            progress=progress,
            keep=SHOWN_NOT_REPRODUCED,
        )
    for outcome in summary.not_reproduced:
        print(f"NOT REPRODUCED: attempt {outcome.attempt_id} ({outcome.serial} at {outcome.station_id})")
        for line in outcome.differences + [f"note: {n}" for n in outcome.notes]:
            print(f"  {line}")
    hidden = summary.not_reproduced_count - len(summary.not_reproduced)
    if hidden > 0:
        print(f"… and {hidden:,} more not reproduced")
    print(f"{summary.reproduced:,} of {summary.judged:,} verdicts re-derived as recorded")
    return 0 if summary.reproduced == summary.judged else 1


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _session():  # type: ignore[no-untyped-def]
    from app.persistence.db import make_engine, make_session_factory
    from app.security import passwords

    settings = get_settings()
    passwords.configure(settings.security)  # a password or PIN set here is hashed at the plant's cost
    return make_session_factory(make_engine(settings.resolved_database_url()))()


def _demo(_args: argparse.Namespace) -> int:
    from app.services.demo import DEMO_USERS, load_demo, load_demo_users
    from app.services.master_data import DEMO_DOCUMENT

    with _session() as session, session.begin():
        counts = load_demo(session=session, serial_format=get_settings().serial.format())
        created = load_demo_users(session=session)
    print("demo data loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts["master_data_records_kept"]:
        print(
            "master data already in the database was kept as it is; to restore the demo's: "
            f"mes masterdata load {DEMO_DOCUMENT} --by NAME"
        )
    print(f"demo users ({len(created)} created now); sign in at http://127.0.0.1:8000/ui/login with:")
    for user in DEMO_USERS:
        print(f"  {user.role.value:<17} {user.how_to_sign_in}")
    return 0


def _fresh(args: argparse.Namespace) -> int:
    """Print the running number of a work order's first untouched unit and how many follow it. With
    ``--release-more`` the work order comes first, and a used-up one is followed by its demo follow-up
    (``<work order>-2``, ``-3`` …): the first with untouched units, else a new one released now."""
    from sqlalchemy import select

    from app.persistence import models as m
    from app.services.demo import release_next_demo_order

    serial_format = get_settings().serial.format()
    with _session() as session, session.begin():
        order = session.scalars(select(m.WorkOrder).where(m.WorkOrder.number == args.work_order)).one_or_none()
        if order is None:
            print(f"error: work order {args.work_order} does not exist", file=sys.stderr)
            return 2
        first, count = _untouched(session, order)
        if first is None and args.release_more:
            follow_ups = session.scalars(
                select(m.WorkOrder).where(m.WorkOrder.number.like(f"{args.work_order}-%")).order_by(m.WorkOrder.id)
            ).all()
            for order in follow_ups:
                first, count = _untouched(session, order)
                if first is not None:
                    break
            else:
                order = release_next_demo_order(
                    session=session, serial_format=serial_format, work_order=args.work_order
                )
                print(f"every unit of {args.work_order} has been started: released {order.number}", file=sys.stderr)
                first, count = _untouched(session, order)
    if first is None:
        print(f"error: every unit of {order.number} has been started; release a new work order", file=sys.stderr)
        return 2
    match = serial_format.regex.fullmatch(first)
    assert match is not None
    print(*([order.number] if args.release_more else []), int(match.group("seq")), count)
    return 0


def _untouched(session: Any, order: Any) -> tuple[str | None, int]:
    """A work order's first serial that no station has seen yet, and how many such serials it has."""
    from sqlalchemy import func, select

    from app.persistence import models as m

    touched = select(m.OperationAttempt.unit_id).distinct()
    fresh = (
        select(m.Unit.serial).where(m.Unit.work_order_id == order.id, m.Unit.id.not_in(touched)).order_by(m.Unit.serial)
    )
    first = session.scalars(fresh.limit(1)).first()
    return first, session.scalar(select(func.count()).select_from(fresh.subquery())) or 0


def _cli_actor(by: str | None) -> Actor:
    """Who runs a command that changes data: ``cli:<name>`` (``--by``, default the OS user)."""
    from app.domain.errors import InvalidInput

    name = (by if by is not None else _os_user()).strip()
    actor = Actor(username=f"cli:{name}", role=None)
    if not name or len(actor.username) > 64 or not name.isprintable():
        raise InvalidInput(f"--by {name!r}: name the person running the command in 1 to 60 printable characters")
    return actor


def _read_new_secret(username: str, what: str) -> str:
    """A new password or PIN from the terminal (asked twice) or, when piped, the first line of stdin."""
    import getpass

    from app.domain.errors import InvalidInput

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"new {what} for {username}: ")
    if getpass.getpass("again: ") != first:
        raise InvalidInput(f"the two {what}s differ: nothing was changed")
    return first


def _users(args: argparse.Namespace) -> int:
    """Change a user's password or PIN, or deactivate a user, without the API: the way out when
    production refuses to start while a user still has the demo's published password or PIN."""
    from app.services import users

    actor = _cli_actor(args.by)
    stations = [s.strip() for s in args.stations.split(",") if s.strip()] if getattr(args, "stations", None) else None
    if args.users_command == "set-password":
        change = users.UserChange(password=_read_new_secret(args.username, "password"), stations=stations)
        done = "password changed (its tokens revoked)"
    elif args.users_command == "set-pin":
        change = users.UserChange(pin=_read_new_secret(args.username, "PIN"))
        done = "PIN changed (its tokens revoked)"
    else:
        change = users.UserChange(active=False)
        done = "deactivated"
    reason = args.reason or f"mes users {args.users_command}"
    with _session() as session, session.begin():
        users.change_user(session=session, actor=actor, username=args.username, change=change, reason=reason)
    print(f"{args.username}: {done}, recorded in the audit trail as {actor.username}")
    return 0


def _os_user() -> str:
    """Who is logged in to run the command (the audit trail's default for ``--by``)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (e.g. a container's bare uid)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _masterdata(args: argparse.Namespace) -> int:
    import hashlib

    from app.domain.errors import InvalidInput
    from app.services import master_data

    actor = _cli_actor(args.by)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"master-data document {path} is not valid: {exc}") from exc
    document = master_data.parse_document(data, name=str(path))
    # the audit events say which file, exactly as read, changed the master data
    reason = f"mes masterdata load {path.name} (sha256 {hashlib.sha256(data).hexdigest()})"
    with _session() as session, session.begin():
        counts = master_data.load_document(session=session, document=document, actor=actor, reason=reason)
    print("master data loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.startup import preflight

    preflight(get_settings())  # refusals in one sentence here, rather than as a traceback from inside uvicorn
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, workers=1, log_level="info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mes", description="ASHP line MES")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API on HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to the newest revision").set_defaults(func=_upgrade)
    grant = db_sub.add_parser(
        "grant-app-role", help="PostgreSQL: grant the app's (non-owner) role its privileges; run after every upgrade"
    )
    grant.add_argument(
        "role", nargs="?", help="default: the user of MES_DATABASE_URL (must exist, own no table, not be a superuser)"
    )
    grant.set_defaults(func=_grant_app_role)

    audit = sub.add_parser("audit", help="audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="recompute the hash chain; name the first broken link").set_defaults(
        func=_audit_verify
    )

    verdicts = sub.add_parser("verdicts", help="recorded verdicts")
    verdicts_sub = verdicts.add_subparsers(dest="verdicts_command", required=True)
    rederive = verdicts_sub.add_parser(
        "rederive",
        help="judge stored results again as their verdicts recorded (spec revision, parameter set, instant) "
        "and compare; exit 1 when any verdict does not re-derive",
    )
    rederive.add_argument("--serial")
    rederive.add_argument("--work-order")
    rederive.add_argument("--since", type=_utc_instant, help="judged at or after (ISO 8601; UTC unless given)")
    rederive.add_argument("--until", type=_utc_instant, help="judged before (ISO 8601; UTC unless given)")
    rederive.add_argument("--all", action="store_true", help="every judged attempt")
    rederive.set_defaults(func=_rederive)

    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    demo_sub.add_parser("load", help="load the demo line, products and work orders (idempotent)").set_defaults(
        func=_demo
    )
    fresh = demo_sub.add_parser("fresh-serials", help="first untouched serial number of a work order, and how many")
    fresh.add_argument("--work-order", default="WO-DEMO-R290")
    fresh.add_argument(
        "--release-more",
        action="store_true",
        help="print the work order first; when every unit of it has been started, release the next demo "
        "work order like it (<work order>-2, -3 …) and print that one",
    )
    fresh.set_defaults(func=_fresh)

    users_cmd = sub.add_parser("users", help="users, without the API (production start-up refuses demo passwords)")
    users_sub = users_cmd.add_subparsers(dest="users_command", required=True)
    set_password = users_sub.add_parser(
        "set-password", help="set a user's password (asked twice on a terminal; else the first line of stdin)"
    )
    set_password.add_argument(
        "--stations",
        metavar="ID,ID",
        help="a station's service account: the stations it serves (one bound to none must be given them)",
    )
    set_pin = users_sub.add_parser(
        "set-pin", help="set a badge user's PIN (asked twice on a terminal; else the first line of stdin)"
    )
    deactivate = users_sub.add_parser("deactivate", help="deactivate a user (their tokens are revoked)")
    for command in (set_password, set_pin, deactivate):
        command.add_argument("username")
        command.add_argument("--by", metavar="NAME", help="who runs it, recorded as cli:NAME (default: the OS user)")
        command.add_argument("--reason", default=None, required=command is deactivate)
    users_cmd.set_defaults(func=_users)

    md = sub.add_parser("masterdata", help="master data")
    md_sub = md.add_subparsers(dest="md_command", required=True)
    load = md_sub.add_parser("load", help="upsert a master-data JSON document")
    load.add_argument("file")
    load.add_argument(
        "--by",
        metavar="NAME",
        help="who is loading it, recorded in the audit trail as cli:NAME (default: the OS user)",
    )
    load.set_defaults(func=_masterdata)

    from app.cyclemodel.cli import register_cli as register_cyclemodel
    from app.opcua.cli import register_cli as register_opcua

    register_cyclemodel(sub)
    register_opcua(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every upgrade
    args = build_parser().parse_args(argv)
    from app.domain.errors import DomainError
    from app.startup import check_environment, explain

    try:
        check_environment()
        return int(args.func(args))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = explain(exc, database_url=_safe_url_or_none())
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def _safe_url_or_none() -> str | None:
    try:
        return _safe(get_settings().resolved_database_url())
    except Exception:  # the settings themselves are what failed
        return None


if __name__ == "__main__":
    sys.exit(main())
