"""Reads and writes over one client session, chunked to the server's published operation limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from asyncua import Client, ua

from app.opcua.codec import raw_value


class WriteRefused(Exception):
    """The server refused a write (for example BadTypeMismatch); the handshake step did not happen."""


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    if size <= 0 or len(items) <= size:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


class UaLink:
    """Value reads and writes with a time-out, split into requests the server accepts."""

    def __init__(
        self, *, client: Client, timeout_s: float, max_nodes_per_read: int = 0, max_nodes_per_write: int = 0
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self.max_nodes_per_read = max_nodes_per_read
        self.max_nodes_per_write = max_nodes_per_write
        self.reads = 0
        self.writes = 0

    async def read(self, node_ids: Sequence[ua.NodeId]) -> list[ua.DataValue]:
        """Read the Value attribute of each node; one Read request unless the server's limit splits it."""
        values: list[ua.DataValue] = []
        for chunk in _chunks(node_ids, self.max_nodes_per_read):
            self.reads += 1
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races a reply
            async with asyncio.timeout(self._timeout_s):
                values.extend(await self._client.uaclient.read_attributes(list(chunk), ua.AttributeIds.Value))
        return values

    async def write(self, items: Sequence[tuple[ua.NodeId, ua.DataValue]]) -> None:
        """Write values in one Write request; fields that must come last go in their own, later call."""
        for chunk in _chunks(items, self.max_nodes_per_write):
            self.writes += 1
            async with asyncio.timeout(self._timeout_s):
                results = await self._client.uaclient.write_attributes([n for n, _ in chunk], [v for _, v in chunk])
            refused = [(n, r) for (n, _), r in zip(chunk, results, strict=True) if not r.is_good()]
            if refused:
                detail = ", ".join(f"{n.Identifier!s}: {r.name}" for n, r in refused)
                raise WriteRefused(f"server refused write: {detail}")


async def read_operation_limits(link: UaLink) -> tuple[int, int]:
    """MaxNodesPerRead and MaxNodesPerWrite as the server publishes them (0: no limit published)."""
    ids = (
        ua.NodeId(ua.Int32(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)),
        ua.NodeId(ua.Int32(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite)),
    )
    limits = []
    for dv in await link.read(ids):
        value = raw_value(dv)
        ok = dv.StatusCode is None or dv.StatusCode.is_good()
        limits.append(value if ok and isinstance(value, int) and value > 0 else 0)
    return limits[0], limits[1]
