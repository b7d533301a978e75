"""The station tablet with a barcode scanner in Chromium: the scanner types the serial and presses Enter
wherever the focus happens to be (the button of a dialog just cancelled, Start, the station list). The
serial must land in the serial field and show its unit; its Enter must never press a button."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.driver import Line
from tests.ui.conftest import UiServer
from tests.ui.tablet_support import open_tablet, scan

pytestmark = pytest.mark.browser


@pytest.fixture
def page(operator_page: Any) -> Any:
    return operator_page


def scanner(page: Any, serial: str) -> None:
    """What a keyboard-wedge scanner does: type the label's characters, then Enter, into whatever has focus."""
    page.keyboard.type(serial, delay=5)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("dialog", ["check", "hold"])
def test_a_scan_after_a_cancelled_dialog_shows_the_scanned_unit_and_opens_nothing(
    page: Any, ui_server: UiServer, dialog: str
) -> None:
    first, second = ("HP26-0000161", "HP26-0000162") if dialog == "check" else ("HP26-0000163", "HP26-0000164")
    line = Line(ui_server.client)
    for serial in (first, second):
        line.run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, first)
    page.click(f"#{dialog}-btn")
    page.wait_for_selector(f"#{dialog}-dialog[open]")
    page.click(f"#{dialog}-cancel")
    scanner(page, second)
    page.wait_for_selector(f'.unit[data-serial="{second}"]')
    assert page.locator("dialog[open]").count() == 0
    assert page.input_value("#serial") == second


def test_a_scan_while_start_has_the_focus_shows_the_scanned_unit_and_starts_none(
    page: Any, ui_server: UiServer
) -> None:
    shown, scanned = "HP26-0000165", "HP26-0000166"
    line = Line(ui_server.client)
    for serial in (shown, scanned):
        line.run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="BRZ-01")
    scan(page, shown)
    page.focus("#start-btn")
    scanner(page, scanned)
    page.wait_for_selector(f'.unit[data-serial="{scanned}"]')
    page.wait_for_timeout(500)  # a Start sent by the Enter would have been answered by now
    assert line.unit(shown)["next_step"] == "brazing"
    birth = ui_server.client.get(f"/api/v1/units/{shown}/birth-record").json()
    assert [a["station_id"] for a in birth["attempts"]] == ["CEX-01"], "the unit shown was started by the scan"


def test_a_scan_right_after_picking_the_station_goes_to_the_serial_field(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000167"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    page.focus("#station")  # tapped to pick another station: the list keeps the focus
    page.select_option("#station", "BRZ-01")
    scanner(page, serial)
    page.wait_for_selector(f'.unit[data-serial="{serial}"][data-station="BRZ-01"]')
    assert page.input_value("#station") == "BRZ-01"
