"""The strict node-opcua PLC (``strict_plc.js``) as a subprocess the interop tests drive.

node-opcua is another OPC UA stack than the MES's asyncua, with its own encoder, type checks and
security; plc-interface.md is written for PLCs built on any stack. ``make test`` installs it with
``npm ci`` from this folder's lock file. Without Node.js the interop tests are skipped and say so;
with ``MES_REQUIRE_NODE=1`` (CI) that is a failure instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.opcua.station_types import StationTypeSpec

HERE = Path(__file__).parent
SCRIPT = HERE / "strict_plc.js"
REQUIRE_NODE = os.environ.get("MES_REQUIRE_NODE") == "1"


def require_node() -> str:
    """The ``node`` executable; skips (or, with MES_REQUIRE_NODE=1, fails) when the PLC cannot run."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node.js (node) is not on PATH"
    elif not (HERE / "node_modules" / "node-opcua").is_dir():
        problem = f"node-opcua is not installed in {HERE} (make test runs npm ci there)"
    if problem is not None:
        if REQUIRE_NODE:
            pytest.fail(f"MES_REQUIRE_NODE=1 but the node-opcua PLC cannot run: {problem}")
        pytest.skip(problem)
    assert node is not None
    return node


@dataclass(frozen=True)
class PlcStation:
    """One station the PLC hosts: its id and the contract's view of its type."""

    station_id: str
    spec: StationTypeSpec
    counters_at: int | None = None  # all four counters start here (a PLC that has run long), else 0

    def describe(self) -> dict[str, Any]:
        counters = {} if self.counters_at is None else {"counters_at": self.counters_at}
        return counters | {
            "id": self.station_id,
            "type": self.spec.code,
            "values": [{"name": v.name, "kind": v.kind} for v in self.spec.values],
            "traces": list(self.spec.trace_channels),
            "live": list(self.spec.extra_live_channels),
        }


@dataclass(frozen=True)
class PlcSecurity:
    """The PLC's side of Basic256Sha256 SignAndEncrypt: its certificate (PEM) and key, its PKI store
    (``pki_root/trusted/certs`` holds the client certificates it trusts) and its users."""

    certificate: Path
    private_key: Path
    pki_root: Path
    users: dict[str, str]


class NodePlc:
    """Start, drive and stop ``strict_plc.js``; every event it prints is kept in ``events``."""

    def __init__(
        self,
        *,
        port: int,
        stations: Sequence[PlcStation],
        workdir: Path,
        security: PlcSecurity | None = None,
        extra_namespaces: Sequence[str] = (),
        ack_timeout_s: float = 30.0,
        max_nodes_per_read: int = 0,
        max_nodes_per_write: int = 0,
    ) -> None:
        self.port = port
        self.url = f"opc.tcp://127.0.0.1:{port}"
        self.workdir = workdir
        (workdir / "retain").mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "plc.json"
        config = {
            "port": port,
            "stations": [s.describe() for s in stations],
            "retain_dir": str(workdir / "retain"),
            "pki_root": str(workdir / "pki"),
            "answer_timeout_s": 10,
            "ack_timeout_s": ack_timeout_s,
            "extra_namespaces": list(extra_namespaces),
            # the server's OperationLimits (0: none published)
            "max_nodes_per_read": max_nodes_per_read,
            "max_nodes_per_write": max_nodes_per_write,
            "security": None
            if security is None
            else {
                "certificate": str(security.certificate),
                "private_key": str(security.private_key),
                "pki_root": str(security.pki_root),
                "users": security.users,
            },
        }
        self.config_path.write_text(json.dumps(config))
        self.events: list[dict[str, Any]] = []
        self.ready: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Start the PLC; returns its ``ready`` event (endpoint, namespace index, BootIds)."""
        node = require_node()
        self.events.clear()
        self._process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            str(self.config_path),
            cwd=str(HERE),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=(self.workdir / "plc-stderr.log").open("ab"),
            limit=256 * 1024 * 1024,  # one event per line: a long session's log is one long line
        )
        self._reader = asyncio.create_task(self._read_events(self._process))
        self.ready = await self.wait_for(lambda e: e["event"] == "ready", timeout_s=timeout_s, what="PLC ready")
        return self.ready

    async def _read_events(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            text = line.decode().strip()
            if text.startswith("{"):
                self.events.append(json.loads(text))
                self._changed.set()
        self._changed.set()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], *, timeout_s: float = 20.0, what: str = "event", start: int = 0
    ) -> dict[str, Any]:
        """The first event from index ``start`` on that ``match``es; fails with the PLC's own errors."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            for event in self.events[start:]:
                if event["event"] == "error":
                    raise AssertionError(f"the node-opcua PLC failed: {event['message']}")
                if match(event):
                    return event
            if self._process is not None and self._process.returncode is not None and self._reader_done():
                raise AssertionError(f"the node-opcua PLC exited ({self._process.returncode}) before {what}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; PLC events: {self.events[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _reader_done(self) -> bool:
        return self._reader is None or self._reader.done()

    async def send(self, command: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write((json.dumps(command) + "\n").encode())
        await self._process.stdin.drain()

    async def request(self, station_id: str, serial: str) -> dict[str, Any]:
        """The PLC asks to start ``serial`` and waits for the MES's answer (its ``answer`` event)."""
        start = len(self.events)
        await self.send({"cmd": "request", "station": station_id, "serial": serial})
        return await self.wait_for(
            lambda e: e["event"] == "answer" and e["station"] == station_id and e["serial"] == serial,
            what=f"answer to {serial} at {station_id}",
            start=start,
        )

    async def result(
        self,
        station_id: str,
        serial: str,
        *,
        values: dict[str, Any],
        traces: dict[str, tuple[list[float], list[float]]] | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """The PLC offers a result set and (``wait``) waits for the Ack (its ``acked`` event)."""
        start = len(self.events)
        await self.send(
            {"cmd": "result", "station": station_id, "serial": serial, "values": values, "traces": traces or {}}
        )
        if not wait:
            return {}
        return await self.wait_for(
            lambda e: (
                e["event"] in ("acked", "not_acked", "lost_in_restart")
                and e["station"] == station_id
                and e["serial"] == serial
            ),
            timeout_s=40.0,
            what=f"Ack of {serial} at {station_id}",
            start=start,
        )

    async def log(self, station_id: str) -> dict[str, Any]:
        """What the PLC saw of the MES at ``station_id``: its Read/Write log and the contract violations."""
        start = len(self.events)
        await self.send({"cmd": "log", "station": station_id})
        return await self.wait_for(
            lambda e: e["event"] == "log" and e["station"] == station_id, what="log", start=start
        )

    async def kill(self) -> None:
        """Power loss: the process dies at once; only its retentive memory (files) survives."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            await self._reader

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.send({"cmd": "stop"})
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader is not None:
            await self._reader
