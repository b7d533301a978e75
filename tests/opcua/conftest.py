"""Loopback fixtures: real asyncua servers on free ports, the supervisor under test, and an in-memory MES."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
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


def run(scenario: Callable[[], Awaitable[None]], *, timeout_s: float = 60.0) -> None:
    """Run an async test scenario on a fresh event loop; print every task's stack if it runs long."""

    async def main() -> None:
        watchdog = asyncio.create_task(_dump_tasks_after(timeout_s / 4))
        try:
            await asyncio.wait_for(scenario(), timeout_s)  # type: ignore[arg-type]
        finally:
            watchdog.cancel()

    asyncio.run(main())


async def _dump_tasks_after(delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    for task in asyncio.all_tasks():
        print(f"--- slow scenario: task {task.get_name()}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)
