"""A button on a panel another scan made stale stays disabled (Chromium): a Start, a part or a repair
sent before the scan and lost on the network does not enable its button again on the old unit's panel,
where a tap would act on the old unit while the screen goes on to show the new one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.driver import Line
from tests.ui.conftest import UiServer, Watch
from tests.ui.tablet_support import open_repair_form_after_a_braze_fail, open_tablet, scan

pytestmark = pytest.mark.browser


@pytest.fixture
def page(operator_page: Any, watch: Watch) -> Iterator[Any]:
    yield operator_page
    # the browser's own log lines for the requests these tests cut off (the page says Offline)
    watch.errors[:] = [e for e in watch.errors if "ERR_INTERNET_DISCONNECTED" not in e]


def hold_back(page: Any, url: str) -> list[Any]:
    """The requests to ``url`` the page sends from now on, held unanswered (a slow link)."""
    held: list[Any] = []
    page.route(url, lambda route: held.append(route))
    return held


def sent_before_a_scan_and_lost(page: Any, held: list[Any], *, station: str, next_serial: str) -> None:
    """While the request held is in flight, ``next_serial`` is scanned and its panel cannot be fetched (the
    old panel stays, marked stale); then the request held is lost on the network."""
    while not held:
        page.wait_for_timeout(20)
    page.route(f"**/ui/tablet/{station}/panel?serial={next_serial}*", lambda route: route.abort("internetdisconnected"))
    page.fill("#serial", next_serial)
    page.press("#serial", "Enter")
    page.wait_for_selector("#panel.stale")
    lost = held.pop()
    with page.expect_event("requestfailed", lambda request: request.url == lost.request.url):
        lost.abort("internetdisconnected")
    page.wait_for_timeout(300)  # whatever the page does when its request fails, it has done by now
    assert page.locator("#panel.stale").count() == 1  # the next unit's panel is still not in


def test_a_start_lost_on_the_network_after_another_scan_leaves_the_old_units_start_disabled(
    page: Any, ui_server: UiServer
) -> None:
    old, new = "HP26-0000301", "HP26-0000302"
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, old)
    held = hold_back(page, "**/ui/tablet/CEX-01/start")
    page.click("#start-btn")
    sent_before_a_scan_and_lost(page, held, station="CEX-01", next_serial=new)
    assert page.locator(".unit").get_attribute("data-serial") == old  # the old panel, marked stale
    assert page.locator("#start-btn").is_disabled() and page.locator("#hold-btn").is_disabled()
    page.unroute("**/ui/tablet/CEX-01/start")
    page.unroute(f"**/ui/tablet/CEX-01/panel?serial={new}*")
    scan(page, new)  # the link is back: the new unit's panel, and its own Start
    page.click("#start-btn")
    page.wait_for_selector("#running")
    assert ui_server.client.get(f"/api/v1/units/{old}/birth-record").json()["attempts"] == []
    attempts = ui_server.client.get(f"/api/v1/units/{new}/birth-record").json()["attempts"]
    assert [(a["station_id"], a["status"]) for a in attempts] == [("CEX-01", "open")]


def test_a_part_lost_on_the_network_after_another_scan_leaves_the_old_units_parts_form_disabled(
    page: Any, ui_server: UiServer
) -> None:
    old, new = "HP26-0000303", "HP26-0000304"
    line = Line(ui_server.client)
    line.run("coil_expansion", old)
    line.run("brazing", old)
    open_tablet(page, ui_server.base, station="SBA-01")
    scan(page, old)
    page.click("#start-btn")
    page.wait_for_selector("#parts-form")
    page.fill("#part-serial", "CMP-STALE-0001")
    page.fill("#part-model", "any model")
    held = hold_back(page, "**/ui/tablet/SBA-01/parts")
    page.click('#parts-form button[type="submit"]')
    sent_before_a_scan_and_lost(page, held, station="SBA-01", next_serial=new)
    assert page.locator(".unit").get_attribute("data-serial") == old
    assert page.locator('#parts-form button[type="submit"]').is_disabled()
    assert page.locator("#part-serial").is_disabled()


def test_a_repair_lost_on_the_network_after_another_scan_leaves_the_old_units_repair_form_disabled(
    page: Any, ui_server: UiServer
) -> None:
    old, new = "HP26-0000305", "HP26-0000306"
    open_repair_form_after_a_braze_fail(page, ui_server, old, description="re-brazed the manifold joint")
    held = hold_back(page, "**/ui/tablet/REP-01/repair")
    page.click('#repair-form button[type="submit"]')
    sent_before_a_scan_and_lost(page, held, station="REP-01", next_serial=new)
    assert page.locator(".unit").get_attribute("data-serial") == old
    assert page.locator('#repair-form button[type="submit"]').is_disabled()
    attempts = ui_server.client.get(f"/api/v1/units/{old}/birth-record").json()["attempts"]
    assert [a["status"] for a in attempts if a["station_type"] == "repair"] == ["open"]  # nothing recorded
