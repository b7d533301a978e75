"""Loopback fixtures: real asyncua servers on free ports, the supervisor under test, and an in-memory MES."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from app.opcua.master_data import AdapterTiming

logging.getLogger("asyncua").setLevel(logging.ERROR)

FAST = AdapterTiming(
    reconcile_interval_s=0.5,
    request_timeout_s=2.0,
    stale_after_s=3.0,
    reconnect_min_delay_s=0.1,
    reconnect_max_delay_s=0.5,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint_url() -> str:
    return f"opc.tcp://127.0.0.1:{free_port()}/plc/"


async def eventually(condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait until ``condition()`` holds; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async test scenario on a fresh event loop."""
    asyncio.run(asyncio.wait_for(scenario(), 60))  # type: ignore[arg-type]
