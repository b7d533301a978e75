"""The station tablet in Chromium: scan, interlock, start, live values, verdict without reload,
hold, repair, parts scanned into the record, manual checks, and a dropped connection (those marked
BOTH also against a server on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.opcua.live import LiveValue
from app.opcua.simulator.faults import Fault
from tests.api.driver import Line
from tests.ui.conftest import (
    OPERATOR,
    QUALITY_ENGINEER,
    TABLET_PORTRAIT,
    UiServer,
    Watch,
    new_page,
    screenshot,
    sign_in,
)
from tests.ui.tablet_support import open_repair_form_after_a_braze_fail, open_tablet, scan

pytestmark = pytest.mark.browser
BOTH = pytest.mark.ui_backends("sqlite", "postgres")


@pytest.fixture
def page(operator_page: Any) -> Any:
    """Every tablet test is signed in as the demo operator (badge B1001 + PIN)."""
    return operator_page


@BOTH
def test_scanning_a_serial_shows_the_unit_its_route_and_that_it_may_start(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000101"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="BRZ-01")
    scan(page, serial)
    panel = page.locator("#panel")
    assert "HPM-06-R290-EVI" in panel.inner_text()
    assert "passed" in page.locator(".step-passed").first.inner_text()
    assert "brazing" in page.locator(".step-next").inner_text()
    assert page.locator("#may-start").is_visible()
    screenshot(page, "tablet-scan-1280x800")
    page.reload()  # the station and serial are remembered by the tablet, the operator by the session
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')
    assert page.input_value("#station") == "BRZ-01"
    assert "Olga Operator" in page.locator("#who").inner_text()


@BOTH
def test_a_refused_start_shows_the_interlock_reason(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000102"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="VAC-01")
    scan(page, serial)
    refusal = page.locator("#refusal")
    assert "has not passed brazing" in refusal.inner_text()
    assert page.locator("#start-btn").count() == 0
    screenshot(page, "tablet-refused-1280x800")


@BOTH
def test_live_values_and_the_verdict_appear_without_reload(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000103"
    line = Line(ui_server.client)
    for station_type in ("coil_expansion", "brazing", "sub_base_assembly"):
        line.run(station_type, serial)
    open_tablet(page, ui_server.base, station="VAC-01")
    scan(page, serial)
    page.evaluate("window.__notReloaded = true")
    page.click("#start-btn")
    page.wait_for_selector("#running")
    now = datetime.now(UTC)
    for pressure in (900.0, 120.0, 48.0):
        ui_server.publish(LiveValue(station_id="VAC-01", channel="Pressure_Pa", value=pressure, at=now))
    page.wait_for_selector('.tile[data-channel="Pressure_Pa"] .tile-value:text("48.00")')
    assert "50 Pa" in page.locator("#vac-timer").inner_text()
    screenshot(page, "tablet-running-1280x800")

    response = line.complete("vacuum_dehydration", serial, fault=Fault.GROSS_LEAK)
    assert response.status_code == 200, response.text
    page.wait_for_selector('#verdict[data-verdict="FAIL"]', timeout=8_000)
    assert page.evaluate("window.__notReloaded") is True
    verdict = page.locator("#verdict").inner_text()
    assert "FAIL" in verdict
    assert "repair" in verdict  # what to do next
    failed = page.locator(".failed-checks li")
    assert failed.count() >= 1 and len(failed.first.inner_text()) > 10
    screenshot(page, "tablet-verdict-fail-1280x800")


@BOTH
def test_an_operator_puts_a_unit_on_hold_with_a_reason(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000104"
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.click("#hold-btn")
    page.fill("#hold-reason", "dented coil fins seen at the station")
    page.click('#hold-form button[type="submit"]')
    page.wait_for_selector(".status-on_hold")
    assert "dented coil fins" in page.locator(".holds").inner_text()
    assert "on hold" in page.locator("#refusal").inner_text()
    hold = ui_server.client.get("/api/v1/holds").json()
    assert any(h["serial"] == serial and h["created_by"] == "operator1" for h in hold)


def test_the_repair_bench_records_a_repair_through_the_completion_service(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000105"
    open_repair_form_after_a_braze_fail(
        page, ui_server, serial, description="re-brazed the manifold after the dew point excursion"
    )
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
    assert "brazing" in page.locator("#verdict .next").inner_text()
    assert Line(ui_server.client).unit(serial)["next_step"] == "brazing"


def test_the_repair_bench_shows_which_checks_failed_where_before_and_during_the_repair(
    page: Any, ui_server: UiServer
) -> None:
    serial = "HP26-0000140"
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    line.run("sub_base_assembly", serial, expect="FAIL", fault=Fault.WRONG_COMPRESSOR)
    open_tablet(page, ui_server.base, station="REP-01")
    scan(page, serial)
    # the operator at the bench sees which part is wrong, not only "replace the part"
    sent = page.locator("#sent-to-repair")
    assert "Repair: replace the part — then re-enter at sub-base assembly" in sent.inner_text()
    assert "Sent here by a FAIL at SBA-01 (sub-base assembly)" in sent.inner_text()
    failed = page.locator("#repair-failed-checks li").all_inner_texts()
    assert any("compressor" in text and "BOM requires RSC-19-EVI" in text for text in failed), failed
    screenshot(page, "tablet-repair-bench-why-1280x800")
    page.click("#start-btn")
    page.wait_for_selector("#repair-form")
    assert any("BOM requires RSC-19-EVI" in t for t in page.locator("#repair-failed-checks li").all_inner_texts())


def test_a_repair_is_recorded_only_with_what_was_done_picked_by_the_operator(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000141"
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial, expect="FAIL", fault=Fault.DEW_POINT_EXCURSION)
    open_tablet(page, ui_server.base, station="REP-01")
    scan(page, serial)
    page.click("#start-btn")
    page.wait_for_selector("#repair-form")
    assert page.input_value("#repair-action") == ""  # no action is preselected for the operator
    page.fill("#repair-description", "re-brazed the manifold joint")
    page.click('#repair-form button[type="submit"]')
    page.wait_for_timeout(500)
    assert page.locator("#repair-action:invalid").count() == 1
    attempts = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]
    assert [a["status"] for a in attempts if a["station_type"] == "repair"] == ["open"]  # nothing recorded
    page.select_option("#repair-action", "rebraze")
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')


@BOTH
def test_a_part_replaced_at_the_repair_bench_shows_in_the_birth_record_with_the_old_one_marked_removed(
    page: Any, qe_page: Any, ui_server: UiServer, watch: Watch
) -> None:
    serial = "HP26-0000112"
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    wrong = {"CompressorSerial": "C-UI-OLD-12", "CompressorModel": "RSC-38-EVI"}  # not HPM-06's compressor
    line.run("sub_base_assembly", serial, expect="FAIL", overrides=wrong)
    open_tablet(page, ui_server.base, station="REP-01")
    scan(page, serial)
    page.click("#start-btn")
    page.wait_for_selector("#repair-form")
    page.select_option("#repair-action", "replace_part")
    page.fill("#repair-description", "fitted the compressor the bill of materials names")
    page.select_option("#repair-part-kind", "compressor")
    page.fill("#repair-part", "C-UI-NEW-12")
    page.fill("#repair-part-model", "RSC-38-EVI")  # the wrong model again: refused, and said why
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector("#message.error")
    assert "needs compressor RSC-19-EVI" in page.locator("#message").inner_text()
    assert page.input_value("#repair-part-kind") == "compressor"  # kept for the operator to correct
    assert page.input_value("#repair-part") == "C-UI-NEW-12"
    page.fill("#repair-part-model", "RSC-19-EVI")
    page.click('#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
    # the verdict can come by the live stream before the repair's own answer fills the message line
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('marked removed')")
    assert "C-UI-OLD-12 marked removed" in page.locator("#message").inner_text()
    refused = [e for e in watch.errors if "status of 409 (Conflict)" in e]  # the browser logs the refusal
    assert len(refused) == 1
    watch.errors[:] = [e for e in watch.errors if e not in refused]

    record = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()
    [repair] = [a for a in record["attempts"] if a["station_type"] == "repair"]
    qe_page.goto(f"{ui_server.base}/ui/units/{serial}")
    old = qe_page.locator('table.components tr:has(a:text-is("C-UI-OLD-12"))')
    assert old.get_attribute("class") == "removed"
    assert old.locator("td.removal").inner_text().startswith("removed ")
    assert f"by attempt {repair['id']}" in old.locator("td.removal").inner_text()
    assert old.locator(f'td.removal a[href="#attempt-{repair["id"]}"]').count() == 1
    new = qe_page.locator(f'#attempt-{repair["id"]} table.components tr:has(a:text-is("C-UI-NEW-12"))')
    assert new.locator("td.removal").inner_text() == "—" and new.get_attribute("class") is None
    old.scroll_into_view_if_needed()
    screenshot(qe_page, "birth-record-part-removed-1280x800")


def test_the_tablet_shows_offline_keeps_typed_input_and_resumes(page: Any, ui_server: UiServer, watch: Watch) -> None:
    serial = "HP26-0000106"
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.context.set_offline(True)
    page.wait_for_selector(".link.offline")
    page.fill("#serial", "HP26-0000107")
    page.press("#serial", "Enter")  # scanned while offline: kept, and shown once the link is back
    screenshot(page, "tablet-offline-1280x800")
    assert page.input_value("#serial") == "HP26-0000107"
    page.context.set_offline(False)
    page.wait_for_selector(".link.online")
    page.wait_for_selector('.unit[data-serial="HP26-0000107"]')
    page.fill("#serial", "HP27-BAD")
    page.press("#serial", "Enter")
    page.wait_for_selector('.panel-error[data-problem="invalid-input"]')  # shown, not a console error
    # the browser itself logs each load it could not make while the network was down: expected here
    watch.errors[:] = [e for e in watch.errors if "ERR_INTERNET_DISCONNECTED" not in e]


def test_the_tablet_in_portrait(browser: Any, ui_server: UiServer, watch: Watch) -> None:
    serial = "HP26-0000108"
    Line(ui_server.client).run("coil_expansion", serial)
    page = new_page(browser, watch, viewport=TABLET_PORTRAIT)
    sign_in(page, ui_server.base, OPERATOR)
    open_tablet(page, ui_server.base, station="BRZ-01")
    scan(page, serial)
    screenshot(page, "tablet-scan-800x1280")
    page.context.close()
    assert watch.off_loopback() == [] and watch.errors == []


def record_part(page: Any, kind: str, part_serial: str, model: str) -> None:
    """Scan a part as a barcode scanner does: the serial label, Enter, the model label, Enter."""
    page.select_option("#part-kind", kind)
    page.fill("#part-serial", part_serial)
    page.press("#part-serial", "Enter")  # moves on to the model, sends nothing yet
    page.fill("#part-model", model)
    page.press("#part-model", "Enter")


@BOTH
def test_parts_scanned_at_the_sub_base_go_into_the_units_record(
    page: Any, browser: Any, ui_server: UiServer, watch: Watch
) -> None:
    serial = "HP26-0000109"
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    open_tablet(page, ui_server.base, station="SBA-01")
    scan(page, serial)
    assert "Start the unit" in page.locator("#parts-hint").inner_text()
    page.click("#start-btn")
    page.wait_for_selector("#parts-form")

    record_part(page, "compressor", "C-UI-0001", "RSC-38-EVI")
    page.wait_for_selector("#parts-refused li.part-wrong")
    assert "needs compressor RSC-19-EVI" in page.locator("#parts-refused").inner_text()
    assert page.input_value("#part-serial") == "C-UI-0001"  # kept for the operator to correct
    record_part(page, "compressor", "C-UI-0002", "RSC-19-EVI")
    page.wait_for_selector('#parts-list li[data-identifier="C-UI-0002"]')
    assert "needs compressor RSC-19-EVI" in page.locator("#parts-refused").inner_text()  # survives the refresh

    page.context.set_offline(True)  # typed while offline: nothing lost, sent once the link is back
    record_part(page, "inverter", "I-UI-0002", "INV-06")
    page.wait_for_selector(".link.offline")
    page.context.set_offline(False)
    assert page.input_value("#part-serial") == "I-UI-0002" and page.input_value("#part-model") == "INV-06"
    page.click('#parts-form button[type="submit"]')
    page.wait_for_selector('#parts-list li[data-identifier="I-UI-0002"]')
    record_part(page, "compressor", "C-UI-0002", "RSC-19-EVI")
    page.wait_for_selector('#parts-refused li:has-text("already recorded")')
    page.locator("#parts-recorded").scroll_into_view_if_needed()
    screenshot(page, "tablet-sub-base-parts-1280x800")
    # the browser logs each refused request (the page shows why) and each send made while offline
    refused = [e for e in watch.errors if "status of 409 (Conflict)" in e]
    assert len(refused) == 2
    watch.errors[:] = [e for e in watch.errors if e not in refused and "ERR_INTERNET_DISCONNECTED" not in e]

    # the record is the server's: a tablet that never saw these scans shows them
    other_watch = Watch()
    other = new_page(browser, other_watch)
    sign_in(other, ui_server.base, OPERATOR)
    open_tablet(other, ui_server.base, station="SBA-01")
    scan(other, serial)
    assert other.locator("#parts-list li").all_inner_texts() == [
        "compressor C-UI-0002 · RSC-19-EVI",
        "inverter I-UI-0002 · INV-06",
    ]
    other.context.close()
    assert other_watch.errors == [] and other_watch.off_loopback() == []
    attempt = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"][-1]
    assert attempt["status"] == "open"
    assert [c["identifier"] for c in attempt["components"]] == ["C-UI-0002", "I-UI-0002"]

    # the station's result completes the operation; the panel then shows the attempt's parts
    response = line.complete("sub_base_assembly", serial, overrides={"EviValveSerial": "V-UI-0002"})
    assert response.status_code == 200, response.text
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
    assert page.locator("#parts-form").count() == 0
    assert page.locator('#parts-list li[data-identifier="V-UI-0002"]').count() == 1


@BOTH
def test_a_manual_check_is_recorded_as_the_signed_in_operator_and_a_fail_holds_the_unit(
    page: Any, ui_server: UiServer
) -> None:
    serial = "HP26-0000111"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.click("#check-btn")
    assert "operator1" in page.locator("#check-form").inner_text()  # recorded as the signed-in operator
    page.fill("#check-name", "visual_inspection")
    page.check("#check-pass")
    page.fill("#check-message", "fins straight, no scratches on the tubes")
    screenshot(page, "tablet-manual-check-1280x800")
    page.click('#check-form button[type="submit"]')
    page.wait_for_selector("#manual-checks li.mc-PASS")
    assert "operator1" in page.locator("#manual-checks").inner_text()
    assert page.locator("#may-start").count() == 0 and page.locator(".status-in_process").count() == 1

    page.click("#check-btn")
    page.fill("#check-name", "fin_damage")
    page.check("#check-fail")
    page.fill("#check-message", "fins bent over 4 cm at the lower edge")
    page.click('#check-form button[type="submit"]')
    page.wait_for_selector(".status-on_hold")
    assert "manual check fin_damage failed at CEX-01" in page.locator(".holds").inner_text()
    assert page.locator("#manual-checks li").count() == 2
    screenshot(page, "tablet-manual-check-fail-1280x800")

    sign_in(page, ui_server.base, QUALITY_ENGINEER)  # the birth record is the workbench's
    page.goto(f"{ui_server.base}/ui/units/{serial}")
    rows = page.locator("table.manual-checks tr").all_inner_texts()
    assert len(rows) == 3 and "operator1" in rows[1] and "FAIL" in rows[2]


def test_a_stream_the_server_ends_reconnects_without_showing_offline(
    page: Any, ui_server: UiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui import events

    monkeypatch.setattr(events, "MAX_STREAM_S", 1.0)
    serial = "HP26-0000110"
    line = Line(ui_server.client)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.evaluate(
        "window.__wentOffline = false; new MutationObserver(() => {"
        " if (document.getElementById('link').classList.contains('offline')) window.__wentOffline = true;"
        " }).observe(document.getElementById('link'), {attributes: true})"
    )
    page.wait_for_timeout(3500)  # three streams ended and reopened
    assert line.start("coil_expansion", serial).status_code == 201
    assert line.complete("coil_expansion", serial).status_code == 200
    page.wait_for_selector('#verdict[data-verdict="PASS"]', timeout=8_000)
    assert page.evaluate("window.__wentOffline") is False
