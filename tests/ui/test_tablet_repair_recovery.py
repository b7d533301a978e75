"""The repair form asks for the recovered refrigerant on a unit that holds its charge, and says the MES's
refusal inside the form when the mass is missing (Chromium); a unit never charged is not asked."""

from __future__ import annotations

from typing import Any

import pytest

from app.opcua.simulator.faults import Fault
from tests.api.driver import MONOBLOC, Line
from tests.ui.conftest import UiServer, Watch
from tests.ui.tablet_support import open_repair_form_after_a_braze_fail, open_tablet, scan

pytestmark = pytest.mark.browser


@pytest.fixture
def page(operator_page: Any) -> Any:
    return operator_page


def _repair_form_of_a_charged_unit(page: Any, ui_server: UiServer, serial: str) -> None:
    """``serial`` charged at CHG-01, failed at the leak test, started at REP-01, its rebraze typed in."""
    line = Line(ui_server.client)
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    line.run("leak_test", serial, "FAIL", fault=Fault.FINE_LEAK)
    open_tablet(page, ui_server.base, station="REP-01")
    scan(page, serial)
    page.click("#start-btn")
    page.wait_for_selector("#repair-form")
    page.select_option("#repair-action", "rebraze")
    page.fill("#repair-description", "re-brazed the leaking joint")


def test_a_charged_units_repair_form_asks_for_the_recovered_mass_and_refuses_inside_the_form_without_it(
    page: Any, ui_server: UiServer, watch: Watch
) -> None:
    serial = "HP26-0000131"
    _repair_form_of_a_charged_unit(page, ui_server, serial)
    assert page.locator("#repair-recovered").is_visible()
    assert page.locator('label[for="repair-recovered"]').inner_text() == "Recovered refrigerant (g)"
    assert "holds its R290 charge (charged at CHG-01" in page.locator("#repair-held-charge").inner_text()

    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector("#repair-form #repair-error:not([hidden])")
    refusal = page.locator("#repair-error").inner_text()
    assert refusal.startswith(f"{serial} holds its R290 charge") and "record the recovered mass" in refusal
    assert page.input_value("#repair-description") == "re-brazed the leaking joint"  # kept to complete
    watch.errors[:] = [e for e in watch.errors if "status of 422" not in e]  # the browser logs the refusal
    attempts = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]
    assert [a["status"] for a in attempts if a["station_type"] == "repair"] == ["open"]

    page.fill("#repair-recovered", "139.5")
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
    attempts = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]
    [repair] = [a for a in attempts if a["station_type"] == "repair"]
    assert {x["name"]: x["value"] for x in repair["measurements"]}["RecoveredMass_g"] == 139.5


def test_a_unit_never_charged_is_not_asked_for_a_recovered_mass(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000132"
    open_repair_form_after_a_braze_fail(page, ui_server, serial, description="re-brazed the manifold")
    assert not page.locator("#repair-recovered").is_visible()
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
