"""Steps the tablet's page tests share: open the tablet at a station, scan a unit, and bring a unit
to the repair bench's form after a brazing FAIL."""

from __future__ import annotations

from typing import Any

from app.opcua.simulator.faults import Fault
from tests.api.driver import Line
from tests.ui.conftest import UiServer


def open_tablet(page: Any, base: str, *, station: str) -> None:
    page.goto(f"{base}/ui/tablet")
    assert page.locator("#who").get_attribute("data-username") == "operator1"  # the signed-in operator
    page.select_option("#station", station)


def scan(page: Any, serial: str) -> None:
    page.fill("#serial", serial)
    page.press("#serial", "Enter")
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')


def open_repair_form_after_a_braze_fail(page: Any, ui_server: UiServer, serial: str, *, description: str) -> None:
    """``serial`` fails brazing (dew point), is started at REP-01, and its repair form is filled in."""
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial, expect="FAIL", fault=Fault.DEW_POINT_EXCURSION)
    open_tablet(page, ui_server.base, station="REP-01")
    scan(page, serial)
    page.click("#start-btn")
    page.wait_for_selector("#repair-form")
    page.select_option("#repair-action", "rebraze")
    page.fill("#repair-description", description)
