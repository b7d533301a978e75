"""A TCP proxy that can turn its open connections into half-open ones (bytes vanish, no FIN, no RST)."""

from __future__ import annotations

import asyncio
import contextlib


class BlackholeProxy:
    """Forwards ``listen_port`` to ``target_port``; :meth:`blackhole` silently drops current connections."""

    def __init__(self, *, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self._server: asyncio.Server | None = None
        self._connections: list[dict[str, bool]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def blackhole(self) -> None:
        """Every connection open now stops delivering in both directions and is never closed."""
        for flags in self._connections:
            flags["forward"] = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flags = {"forward": True}
        self._connections.append(flags)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for src, dst in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst, flags))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, flags: dict[str, bool]) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await src.read(65536):
                if flags["forward"]:
                    dst.write(data)
                    await dst.drain()
            if flags["forward"]:
                dst.close()
