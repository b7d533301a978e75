"""A link that keeps dropping is "connected" most of the time: the station's status counts the sessions it lost
lately and says so in words once they are many, on real asyncua servers on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from asyncua.server.internal_subscription import InternalSubscription

from app.opcua.status import StationStatus
from tests.opcua.conftest import FAST, eventually, run
from tests.opcua.harness import connected_plc, rig

# a keep-alive every 200 ms and the link lost after 1 s of silence: a silent PLC is lost about every 1.5 s
FLAPPY = dataclasses.replace(
    FAST, keepalive_count=4, stale_after_s=1.0, link_loss_window_s=120.0, link_unstable_after_losses=3
)
SILENT_LOSS = r"no data from the PLC for [12] s"


async def _never_publish(self: InternalSubscription) -> None:
    self._task = None  # the PLC's publishing engine does not run


def silence_the_plc(monkeypatch: pytest.MonkeyPatch, server) -> None:
    """The PLC (or its gateway) stops publishing, data and keep-alives, on this session and every new one,
    while its Read service still answers: each new session of the MES is connected, then lost again."""
    monkeypatch.setattr(InternalSubscription, "start", _never_publish)
    for subscription in server.server.iserver.subscription_service.subscriptions.values():
        subscription._task.cancel()


class StatusLog:
    """Every distinct (link, sessions_lost_recent, link_summary) a station's status showed, as a line
    operator refreshing the page would have seen it."""

    def __init__(self, supervisor, station_id: str) -> None:
        self.seen: list[tuple[str, int, str]] = []
        self._status = lambda: supervisor.status(station_id)
        self._task = asyncio.create_task(self._poll())

    def _record(self) -> None:
        status: StationStatus = self._status()
        shown = (status.link, status.sessions_lost_recent, status.link_summary)
        if not self.seen or shown != self.seen[-1]:
            self.seen.append(shown)

    async def _poll(self) -> None:
        while True:
            self._record()
            await asyncio.sleep(0.01)

    def counts(self) -> list[int]:
        counts: list[int] = []
        for _, count, _ in self.seen:
            if not counts or count != counts[-1]:
                counts.append(count)
        return counts

    def stop(self) -> None:
        self._task.cancel()
        self._record()


async def _link_steady(r, station_id: str, *, for_s: float, timeout_s: float) -> None:
    """Wait for the station's link to be connected and stay so, without a session lost, for ``for_s``."""
    runner = r.supervisor.runners[0]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await eventually(lambda: r.supervisor.status(station_id).link == "connected", timeout_s=timeout_s)
        lost = runner.sessions_lost
        await asyncio.sleep(for_s)
        if runner.sessions_lost == lost and r.supervisor.status(station_id).link == "connected":
            return
    raise AssertionError(f"the link of {station_id} did not stay connected for {for_s} s")


def test_a_healthy_link_shows_no_lost_sessions():
    async def scenario():
        async with rig(["ST-1"], timing=FLAPPY) as r:
            plc = await connected_plc(r, "ST-1")
            outcome = await plc.request_release("SN-1")
            assert outcome.answered
            await asyncio.sleep(3 * FLAPPY.stale_after_s)  # quiet: only keep-alives arrive
            status = r.supervisor.status("ST-1")
            assert r.supervisor.runners[0].sessions_started == 1
            assert (status.link, status.sessions_lost_recent, status.link_unstable) == ("connected", 0, False)
            assert (status.last_loss_at, status.last_loss_reason) == (None, "")
            assert status.sessions_lost_window_s == FLAPPY.link_loss_window_s
            assert status.link_summary == "connected"

    run(scenario)


def test_a_plc_that_falls_silent_again_and_again_shows_its_lost_sessions_rising_and_says_so(monkeypatch):
    async def scenario():
        async with rig(["ST-1"], timing=FLAPPY) as r:
            await connected_plc(r, "ST-1")
            log = StatusLog(r.supervisor, "ST-1")
            try:
                silence_the_plc(monkeypatch, r.server)
                await eventually(
                    lambda: (
                        r.supervisor.status("ST-1").sessions_lost_recent >= 4
                        and r.supervisor.status("ST-1").link == "connected"
                    ),
                    timeout_s=30.0,
                    what="four sessions lost, and connected again",
                )
            finally:
                log.stop()
            assert log.counts() == [0, 1, 2, 3, 4], log.seen  # one more for each session lost, none dropped out
            connected = [(count, summary) for link, count, summary in log.seen if link == "connected"]
            # below the threshold the status stays as it was; from it on it says so, also while connected
            assert {summary for count, summary in connected if count < 3} == {"connected"}, log.seen
            for count, summary in connected:
                if count >= 3:
                    pattern = rf"connected — link lost {count} times in the last 2 min \(last: {SILENT_LOSS}\)"
                    assert re.fullmatch(pattern, summary), summary
            assert {count for count, _ in connected} >= {0, 1, 2, 3, 4}  # connected between every two losses
            status = r.supervisor.status("ST-1")
            assert status.link_unstable and re.fullmatch(SILENT_LOSS, status.last_loss_reason)
            assert status.last_loss_at is not None
            assert datetime.now(UTC) - status.last_loss_at < timedelta(seconds=5)
            assert status.sessions_lost_recent == r.supervisor.runners[0].sessions_lost

    run(scenario)


def test_a_plc_restart_counts_one_lost_session_however_many_connects_fail_and_one_is_not_called_unstable():
    async def scenario():
        async with rig(["ST-1"], timing=FLAPPY) as r:
            await connected_plc(r, "ST-1")
            runner = r.supervisor.runners[0]
            session_ends = 0
            on_session_end = runner._on_session_end

            async def counted(exc: BaseException) -> None:
                nonlocal session_ends
                session_ends += 1
                await on_session_end(exc)

            runner._on_session_end = counted
            await r.server.stop()
            await eventually(lambda: session_ends >= 5, timeout_s=15.0, what="the loss and four failed connects")
            assert r.supervisor.status("ST-1").sessions_lost_recent == 1
            await r.server.start()
            await eventually(
                lambda: runner.sessions_started == 2 and r.supervisor.status("ST-1").link == "connected",
                what="reconnect",
            )
            status = r.supervisor.status("ST-1")
            assert (status.sessions_lost_recent, status.link_unstable) == (1, False)
            assert status.link_summary == "connected"  # one loss is not worth a word
            assert status.last_loss_reason and status.last_loss_at is not None

    run(scenario)


def test_lost_sessions_older_than_the_window_drop_out_of_the_count_and_the_words(monkeypatch):
    timing = dataclasses.replace(FLAPPY, link_loss_window_s=15.0)

    async def scenario():
        async with rig(["ST-1"], timing=timing) as r:
            await connected_plc(r, "ST-1")
            runner = r.supervisor.runners[0]
            silence_the_plc(monkeypatch, r.server)
            await eventually(
                lambda: r.supervisor.status("ST-1").link_unstable,
                timeout_s=timing.link_loss_window_s,
                what="three sessions lost within the window",
            )
            monkeypatch.undo()  # the PLC publishes again, from its next subscriptions on
            await _link_steady(r, "ST-1", for_s=1.5 * timing.stale_after_s, timeout_s=10.0)
            log = StatusLog(r.supervisor, "ST-1")
            try:
                lost = runner.sessions_lost
                status = r.supervisor.status("ST-1")
                assert status.sessions_lost_recent == lost and status.link_unstable, "recent losses forgotten early"
                assert re.fullmatch(
                    rf"connected — link lost {lost} times in the last 15 s \(last: {SILENT_LOSS}\)", status.link_summary
                ), status.link_summary
                assert status.last_loss_at is not None
                last_loss = status.last_loss_at
                await eventually(
                    lambda: r.supervisor.status("ST-1").sessions_lost_recent == 0,
                    timeout_s=timing.link_loss_window_s + 2,
                    what="the losses aged out of the window",
                )
                aged_out_after = datetime.now(UTC) - last_loss
            finally:
                log.stop()
            assert aged_out_after >= timedelta(seconds=timing.link_loss_window_s - 0.5), aged_out_after
            assert log.counts() == list(range(lost, -1, -1)), log.seen  # one by one, oldest first
            status = r.supervisor.status("ST-1")
            assert (status.link, status.link_summary, status.link_unstable) == ("connected", "connected", False)
            assert status.last_loss_at == last_loss  # when it was last lost is still known
            assert runner.sessions_lost == lost

    run(scenario)
