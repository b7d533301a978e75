"""Shared pieces of the benchmarks: scratch PostgreSQL databases, an MES server process, percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.auth_support import SERVER_ENV, seed_demo_users_and_tokens

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output" / "bench"
PG_ADMIN_URL = os.environ.get("MES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL database at schema head; dropped afterwards unless ``keep``."""
    from app.persistence import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(pg_url(name))
        _load_demo(pg_url(name))
        yield pg_url(name)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _load_demo(url: str) -> None:
    from app.config import Settings
    from app.persistence.db import make_engine, make_session_factory
    from app.services.demo import load_demo

    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        load_demo(session=session, serial_format=Settings().serial.format())
        seed_demo_users_and_tokens(session)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: base URL → process id of each running :func:`mes_server` (for CPU accounting)
SERVER_PIDS: dict[str, int] = {}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL server process on this machine so far (0 where /proc shows none)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += process_cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return total


@contextlib.contextmanager
def mes_server(database_url: str, *, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`mes serve` in its own process (so the load generator does not share its interpreter)."""
    port = free_port()
    env = dict(os.environ, MES_DATABASE_URL=database_url, MES_OPCUA__ENABLED="false", **SERVER_ENV, **(extra_env or {}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("MES server did not start")
            time.sleep(0.1)
        SERVER_PIDS[base] = proc.pid
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        proc.terminate()
        proc.wait(timeout=15)


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, figures: dict[str, object]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"  {key}: {value}")


def progress(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else float("nan")
    print(
        f"\r  {label}: {done:,}/{total:,} ({100 * done / total:5.1f} %, {rate:,.0f}/s, eta {eta:,.0f} s)   ",
        end="",
        flush=True,
    )
    if done >= total:
        print()
