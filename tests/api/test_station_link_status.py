"""The station link routes say when a station's OPC UA link keeps dropping, through the ASGI app, with a real
supervisor connected to a real asyncua server on loopback whose PLC falls silent again and again."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime
from typing import Any

import pytest

from tests.opcua.conftest import eventually, run
from tests.opcua.harness import connected_plc, rig
from tests.opcua.test_link_losses import FLAPPY, SILENT_LOSS, silence_the_plc

STATION = "VAC-01"  # a station of the demo master data: the route looks it up first


def test_the_link_routes_count_the_sessions_a_silent_plc_loses_and_say_so(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    timing = dataclasses.replace(FLAPPY, link_loss_window_s=600.0)

    async def get(path: str) -> Any:
        response = await asyncio.to_thread(client.get, path)
        assert response.status_code == 200, response.text
        return response.json()

    async def scenario() -> None:
        async with rig([STATION], timing=timing) as r:
            client.app.state.supervisor = r.supervisor
            try:
                await connected_plc(r, STATION)
                healthy = await get(f"/api/v1/stations/{STATION}/link")
                assert (healthy["link"], healthy["link_summary"]) == ("connected", "connected")
                assert (healthy["sessions_lost_recent"], healthy["link_unstable"]) == (0, False)
                assert (healthy["sessions_lost_window_s"], healthy["unstable_after_losses"]) == (600.0, 3)
                assert (healthy["last_loss_at"], healthy["last_loss_reason"]) == (None, "")

                silence_the_plc(monkeypatch, r.server)
                await eventually(
                    lambda: r.supervisor.status(STATION).sessions_lost_recent >= 3,
                    timeout_s=30.0,
                    what="three sessions lost",
                )
                one = await get(f"/api/v1/stations/{STATION}/link")
                (listed,) = [s for s in await get("/api/v1/line/stations") if s["station_id"] == STATION]
            finally:
                client.app.state.supervisor = None
        for body in (one, listed):
            lost = body["sessions_lost_recent"]
            assert lost >= 3 and body["link_unstable"] is True, body
            assert re.fullmatch(SILENT_LOSS, body["last_loss_reason"]), body
            assert datetime.fromisoformat(body["last_loss_at"]).tzinfo is not None
            assert body["link"] in ("connecting", "connected", "disconnected")  # the values are as before
            note = rf"link lost {lost} times in the last 10 min \(last: {SILENT_LOSS}\)"
            assert re.fullmatch(rf"{body['link']}( — .+)? — {note}", body["link_summary"]), body["link_summary"]

    run(scenario)
