"""The station tablet's live values in Chromium: named with their units, shown only while the unit on
the screen is the one running at the station, and the vacuum timer against the target and the time of
the specification revision the unit is judged by (a plant's own, not the seed's 50 Pa and 30 min)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.opcua.live import LiveValue
from tests.api.driver import Line
from tests.ui.conftest import UiServer, screenshot
from tests.ui.tablet_support import open_tablet, scan

pytestmark = pytest.mark.browser
RUNNING, WAITING = "HP26-0000151", "HP26-0000152"


@pytest.fixture
def page(operator_page: Any) -> Any:
    return operator_page


@pytest.fixture(scope="module")
def plant_vacuum_spec(ui_server: UiServer) -> None:
    """The plant evacuates to 40 Pa for 35 min (a revision of its own), then two units reach the vacuum."""
    client = ui_server.client
    draft = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "vacuum_dehydration",
            "product_model": "HPM-06-R290-EVI",
            "overrides": {"limits": {"target_pressure_pa": {"high": 40.0}, "time_below_target_s": {"low": 2100.0}}},
            "note": "plant: deeper and longer vacuum",
        },
    )
    assert draft.status_code == 201, draft.text
    approved = client.post(
        f"/api/v1/spec-revisions/{draft.json()['id']}/approve",
        json={"reason": "deeper vacuum after moisture returns", "signature": {"secret": "demo-quality"}},
    )
    assert approved.status_code == 200, approved.text
    line = Line(client)
    for serial in (RUNNING, WAITING):
        for station_type in ("coil_expansion", "brazing", "sub_base_assembly"):
            line.run(station_type, serial)


def _publish_pressure(ui_server: UiServer, *values: tuple[float, float]) -> None:
    start = datetime.now(UTC)
    for seconds, pressure in values:
        at = start + timedelta(seconds=seconds)
        ui_server.publish(LiveValue(station_id="VAC-01", channel="Pressure_Pa", value=pressure, at=at))


def test_live_values_are_named_with_units_and_timed_against_the_units_own_revision(
    page: Any, ui_server: UiServer, plant_vacuum_spec: None
) -> None:
    open_tablet(page, ui_server.base, station="VAC-01")
    scan(page, RUNNING)
    page.click("#start-btn")
    page.wait_for_selector("#running")
    _publish_pressure(ui_server, (0, 45.0))
    tile = page.locator('.tile[data-channel="Pressure_Pa"]')
    tile.locator('.tile-value:text("45.00")').wait_for()
    assert tile.locator(".tile-name").inner_text() == "Pressure (Pa)"
    assert page.locator("#live h2").inner_text() == "Live at VAC-01"
    assert "target ≤ 40 Pa" in page.locator("#vac-timer").inner_text()  # 45 Pa passes the seed's 50 Pa
    _publish_pressure(ui_server, (0, 38.0), (60, 37.0))
    page.wait_for_function("document.getElementById('vac-timer').textContent.includes('for 1:00')")
    assert page.locator("#vac-timer").inner_text() == "≤ 40 Pa for 1:00 — 34 min to go"
    screenshot(page, "tablet-live-vacuum-plant-revision-1280x800")


def test_live_values_of_another_unit_are_not_shown_with_the_unit_scanned(
    page: Any, ui_server: UiServer, plant_vacuum_spec: None
) -> None:
    open_tablet(page, ui_server.base, station="VAC-01")
    scan(page, RUNNING)  # running at VAC-01 since the test before, or started now
    if page.locator("#start-btn").count():
        page.click("#start-btn")
        page.wait_for_selector("#running")
    _publish_pressure(ui_server, (0, 30.0))
    page.locator('.tile[data-channel="Pressure_Pa"] .tile-value:text("30.00")').wait_for()
    assert page.locator("#live").is_visible()
    # the next unit in line is scanned: the pressure shown is RUNNING's, so it is not shown with WAITING
    scan(page, WAITING)
    page.wait_for_selector("#may-start, #refusal")
    _publish_pressure(ui_server, (0, 29.0))
    page.wait_for_timeout(500)
    assert page.locator("#live").is_hidden()
    assert page.locator("#vac-timer").is_hidden()
    # and nothing of VAC-01's is left on the screen at the repair bench
    page.select_option("#station", "REP-01")
    page.wait_for_selector('.unit[data-station="REP-01"]')
    assert page.locator("#live").is_hidden()
    screenshot(page, "tablet-other-unit-no-live-1280x800")
