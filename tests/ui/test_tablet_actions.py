"""The tablet acts on the unit it shows, once per tap, and loses nothing when the session ends (Chromium):
a late panel of an earlier scan, a verdict a quality engineer overrode, double taps on every button
that sends, a session that ends while the operator types, and refusals said inside the dialog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.driver import MONOBLOC, Line
from tests.conftest import auth_headers
from tests.ui.conftest import OPERATOR, UiServer, Watch, screenshot
from tests.ui.tablet_support import open_repair_form_after_a_braze_fail, open_tablet, scan

pytestmark = pytest.mark.browser
QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


@pytest.fixture
def page(operator_page: Any) -> Any:
    return operator_page


def double_tap(page: Any, selector: str) -> None:
    """Two clicks on the button before any answer can arrive (what a double tap on a slow link does)."""
    page.evaluate("(s) => { const b = document.querySelector(s); b.click(); b.click(); }", selector)


def refused_loads(watch: Watch, status: int) -> int:
    """Drop (and count) the browser's own log line for each load answered with ``status``: the page shows why."""
    refused = [e for e in watch.errors if f"status of {status}" in e]
    watch.errors[:] = [e for e in watch.errors if e not in refused]
    return len(refused)


def count_posts(page: Any, path_end: str) -> list[str]:
    """The POSTs the page sends to a URL ending in ``path_end``, as they are sent."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith(path_end) else None)
    return sent


def holds_of(server: UiServer, serial: str) -> list[dict[str, Any]]:
    return [h for h in server.client.get("/api/v1/holds").json() if h["serial"] == serial]


def test_a_late_panel_of_an_earlier_scan_is_dropped_and_start_starts_the_unit_shown(
    page: Any, ui_server: UiServer
) -> None:
    first, second = "HP26-0000201", "HP26-0000202"
    open_tablet(page, ui_server.base, station="CEX-01")
    held: list[Any] = []

    def hold_back_first(route: Any) -> None:
        if f"serial={first}" in route.request.url and not held:
            held.append(route)  # the first scan's panel is slow to arrive
        else:
            route.continue_()

    page.route("**/ui/tablet/CEX-01/panel?*", hold_back_first)
    page.fill("#serial", first)
    page.press("#serial", "Enter")
    while not held:
        page.wait_for_timeout(20)
    scan(page, second)
    with page.expect_response(lambda r: f"serial={first}" in r.url):
        held[0].continue_()  # the first scan's answer arrives last
    page.wait_for_timeout(300)
    page.unroute("**/ui/tablet/CEX-01/panel?*")
    assert page.locator(".unit").get_attribute("data-serial") == second  # what was scanned last
    assert page.locator("#may-start").is_visible()
    page.click("#start-btn")
    page.wait_for_selector("#running")
    birth = ui_server.client.get(f"/api/v1/units/{second}/birth-record").json()
    assert [(a["station_id"], a["status"]) for a in birth["attempts"]] == [("CEX-01", "open")]
    assert ui_server.client.get(f"/api/v1/units/{first}/birth-record").json()["attempts"] == []


def test_while_a_new_scan_loads_the_unit_still_shown_cannot_be_started(page: Any, ui_server: UiServer) -> None:
    shown, next_serial = "HP26-0000203", "HP26-0000204"
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, shown)
    held: list[Any] = []
    page.route("**/ui/tablet/CEX-01/panel?*", lambda route: held.append(route))
    page.fill("#serial", next_serial)
    page.press("#serial", "Enter")
    while not held:
        page.wait_for_timeout(20)
    # the serial field names the next unit, the panel still the last one: nothing may be done to it
    assert page.locator(".unit").get_attribute("data-serial") == shown
    assert page.locator("#start-btn").is_disabled() and page.locator("#hold-btn").is_disabled()
    held[0].continue_()
    page.wait_for_selector(f'.unit[data-serial="{next_serial}"]')
    page.unroute("**/ui/tablet/CEX-01/panel?*")
    assert page.locator("#start-btn").is_enabled()


def test_a_verdict_a_quality_engineer_overrode_shows_as_the_verdict_that_counts(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000205"
    line = Line(ui_server.client)
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    failed = line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 143.0})["attempt"]
    open_tablet(page, ui_server.base, station="CHG-01")
    scan(page, serial)
    assert page.locator("#verdict").get_attribute("data-verdict") == "FAIL"
    override = {"verdict": "PASS", "reason": "concession per deviation D-17", "signature": QUALITY_SIGNATURE}
    r = ui_server.client.post(f"/api/v1/attempts/{failed['id']}/override", json=override)
    assert r.status_code == 201, r.text
    page.wait_for_selector('#verdict[data-verdict="PASS"]', timeout=8_000)  # the event stream says it changed
    assert page.locator(".verdict-word").inner_text() == "PASS"
    overridden = page.locator("#overridden").inner_text()
    assert "Overridden by quality1" in overridden and "judged FAIL" in overridden and "D-17" in overridden
    assert page.locator("#verdict .next").inner_text() == "Next: leak test"  # not the FAIL's "hold for …"
    screenshot(page, "tablet-verdict-overridden-1280x800")


def test_a_pass_names_the_next_step_once(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000206"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    assert page.locator("#verdict .next").inner_text() == "Next: brazing"


def test_a_double_tap_holds_once_and_records_one_manual_check(page: Any, ui_server: UiServer) -> None:
    held_serial, checked_serial = "HP26-0000207", "HP26-0000208"
    Line(ui_server.client).run("coil_expansion", checked_serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, held_serial)
    page.click("#hold-btn")
    assert page.locator("#hold-serial").inner_text() == held_serial  # the dialog names the unit it holds
    page.fill("#hold-reason", "dented coil fins seen at the station")
    holds_sent, checks_sent = count_posts(page, "/ui/tablet/hold"), count_posts(page, "/manual-check")
    double_tap(page, '#hold-form button[type="submit"]')
    page.wait_for_selector(".status-on_hold")
    page.wait_for_timeout(500)
    assert len(holds_of(ui_server, held_serial)) == 1 and len(holds_sent) == 1
    assert page.locator("#message").inner_text() == "Unit put on hold."

    scan(page, checked_serial)
    page.click("#check-btn")
    page.fill("#check-name", "visual_inspection")
    page.check("#check-pass")
    page.fill("#check-message", "fins straight, no scratches on the tubes")
    double_tap(page, '#check-form button[type="submit"]')
    page.wait_for_selector("#manual-checks li.mc-PASS")
    page.wait_for_timeout(500)
    [attempt] = ui_server.client.get(f"/api/v1/units/{checked_serial}/birth-record").json()["attempts"]
    assert len(attempt["manual_checks"]) == 1 and len(checks_sent) == 1
    assert page.locator("#manual-checks li").count() == 1


def test_a_double_tap_records_a_repair_once_and_keeps_the_confirmation(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000209"
    open_repair_form_after_a_braze_fail(
        page, ui_server, serial, description="re-brazed the manifold after the dew point excursion"
    )
    sent = count_posts(page, "/ui/tablet/REP-01/repair")
    double_tap(page, '#repair-form button[type="submit"]')
    page.wait_for_selector('#verdict[data-verdict="PASS"]')
    page.wait_for_timeout(500)
    assert len(sent) == 1  # the second tap sent nothing (it was refused with a 409 that hid the confirmation)
    assert page.locator("#message").inner_text().startswith("Repair recorded: PASS")
    assert page.locator("#message.ok").count() == 1
    attempts = ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]
    assert [a["verdict"] for a in attempts if a["station_type"] == "repair"] == ["PASS"]


def test_a_double_click_on_hold_all_holds_each_unit_once(qe_page: Any, ui_server: UiServer) -> None:
    serials = ["HP26-0000210", "HP26-0000211"]
    line = Line(ui_server.client)
    for serial in serials:
        line.run("coil_expansion", serial, overrides={"CoilBatch": "CB-UI-DOUBLE"})
    qe_page.goto(f"{ui_server.base}/ui/genealogy?identifier=CB-UI-DOUBLE&kind=coil_batch")
    qe_page.fill("#hold-all-reason", "coil batch under investigation")
    sent = count_posts(qe_page, "/ui/genealogy/hold")
    double_tap(qe_page, '#hold-all button[type="submit"]')
    qe_page.wait_for_selector("#hold-all-message.ok")
    assert qe_page.locator("#hold-all-message").inner_text() == "2 unit(s) put on hold"
    assert [len(holds_of(ui_server, serial)) for serial in serials] == [1, 1] and len(sent) == 1


def end_session_elsewhere(page: Any, base: str) -> None:
    """Sign the page's session out from another window (its cookie and CSRF token)."""
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    cookie = next(c["value"] for c in page.context.cookies(base) if c["name"] == "mes_session")
    ended = httpx.post(f"{base}/ui/logout", headers={"Cookie": f"mes_session={cookie}", "X-CSRF-Token": csrf})
    assert ended.status_code == 303


def test_a_session_that_ends_while_the_operator_types_keeps_the_text_and_says_why(
    page: Any, ui_server: UiServer
) -> None:
    serial = "HP26-0000212"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    page.fill("#serial", serial)
    with page.expect_response(lambda r: "/events?" in r.url and r.status == 200):
        page.press("#serial", "Enter")
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')
    page.click("#check-btn")
    page.fill("#check-name", "fin_damage")
    page.check("#check-fail")
    page.type("#check-message", "three fins bent at the")
    end_session_elsewhere(page, ui_server.base)
    page.wait_for_url(f"{ui_server.base}/ui/login?next=%2Fui%2Ftablet&reason=session_ended", timeout=10_000)
    assert "Your session ended" in page.locator("#login-notice").inner_text()
    screenshot(page, "sign-in-session-ended-1280x800")
    page.fill("#badge", OPERATOR["badge_id"])
    page.press("#badge", "Enter")
    page.keyboard.type(OPERATOR["pin"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')
    page.wait_for_selector("#check-dialog[open]")  # the dialog as it was, on the same unit
    assert page.locator("#check-serial").inner_text() == serial
    assert page.input_value("#check-name") == "fin_damage" and page.is_checked("#check-fail")
    assert page.input_value("#check-message") == "three fins bent at the"
    page.type("#check-message", " lower edge")
    page.click('#check-form button[type="submit"]')
    page.wait_for_selector(".status-on_hold")
    assert "bent at the lower edge" in page.locator("#manual-checks").inner_text()
    assert drafts_left(page) == []  # sent: nothing left to restore


def drafts_left(page: Any) -> list[str]:
    """The keys of the drafts this tablet keeps."""
    return list(page.evaluate("Object.keys(localStorage).filter((k) => /^mes\\.\\w+Draft:/.test(k))"))


def badge_sign_in(page: Any, badge: dict[str, str]) -> None:
    page.fill("#badge", badge["badge_id"])
    page.press("#badge", "Enter")
    page.keyboard.type(badge["pin"])
    page.keyboard.press("Enter")


def test_a_draft_is_restored_only_to_the_operator_who_typed_it(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000216"
    colleague = {"badge_id": "B2216", "pin": "2216"}
    user = {"username": "operator-next", "display_name": "Next Operator", "role": "operator", **colleague}
    created = ui_server.client.post("/api/v1/users", json=user, headers=auth_headers("admin"))
    assert created.status_code == 201, created.text
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.click("#hold-btn")
    page.fill("#hold-reason", "operator1: dented fins on the left coil")
    end_session_elsewhere(page, ui_server.base)
    page.wait_for_url(f"{ui_server.base}/ui/login?next=%2Fui%2Ftablet&reason=session_ended", timeout=10_000)
    badge_sign_in(page, colleague)  # the next operator on this tablet
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')
    assert page.locator("#who").get_attribute("data-username") == "operator-next"
    assert page.evaluate("document.getElementById('hold-dialog').open") is False
    assert page.input_value("#hold-reason") == ""  # operator1's words are neither shown nor sent as theirs
    page.click("#logout-form button")
    page.wait_for_url(f"{ui_server.base}/ui/login")
    badge_sign_in(page, OPERATOR)  # operator1 back: the draft was left for them
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    page.wait_for_selector("#hold-dialog[open]")
    assert page.input_value("#hold-reason") == "operator1: dented fins on the left coil"
    page.click('#hold-form button[type="submit"]')
    page.wait_for_selector(".status-on_hold")
    [hold] = holds_of(ui_server, serial)
    assert (hold["created_by"], hold["reason"]) == ("operator1", "operator1: dented fins on the left coil")
    assert drafts_left(page) == []


def test_what_is_typed_in_the_repair_form_survives_a_reload(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000213"
    open_repair_form_after_a_braze_fail(page, ui_server, serial, description="re-brazed the suction joint, half way")
    page.reload()
    page.wait_for_selector("#repair-form")
    assert page.input_value("#repair-action") == "rebraze"
    assert page.input_value("#repair-description") == "re-brazed the suction joint, half way"


def test_a_refused_hold_or_check_is_said_inside_the_dialog_in_the_operators_words(
    page: Any, ui_server: UiServer, watch: Watch
) -> None:
    serial = "HP26-0000214"
    Line(ui_server.client).run("coil_expansion", serial)
    open_tablet(page, ui_server.base, station="CEX-01")
    scan(page, serial)
    page.click("#hold-btn")
    page.fill("#hold-reason", "  x")  # three characters for the browser, one for the MES
    page.click('#hold-form button[type="submit"]')
    error = page.locator("#hold-dialog #hold-error")
    error.wait_for()
    assert error.inner_text() == "The reason is too short: write at least 3 characters."
    assert page.evaluate("document.getElementById('hold-dialog').open") is True
    screenshot(page, "tablet-hold-refused-1280x800")
    page.click("#hold-cancel")
    assert holds_of(ui_server, serial) == []

    page.click("#check-btn")
    assert page.locator("#check-error").is_hidden()
    page.fill("#check-name", " a")  # two characters for the browser; the MES strips the space
    page.check("#check-pass")
    page.fill("#check-message", "fins straight")
    page.click('#check-form button[type="submit"]')
    error = page.locator("#check-dialog #check-error")
    error.wait_for()
    assert error.inner_text() == "The check's name is too short: write at least 2 characters."
    assert "String should" not in error.inner_text() and page.locator("#message").inner_text() == ""
    assert refused_loads(watch, 422) == 1


def test_the_sub_base_parts_form_labels_each_field(page: Any, ui_server: UiServer) -> None:
    serial = "HP26-0000215"
    line = Line(ui_server.client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    open_tablet(page, ui_server.base, station="SBA-01")
    scan(page, serial)
    page.click("#start-btn")
    page.wait_for_selector("#parts-form")
    assert page.get_by_label("Part serial").get_attribute("id") == "part-serial"
    assert page.get_by_label("Part model").get_attribute("id") == "part-model"
    assert page.get_by_label("Part", exact=True).get_attribute("id") == "part-kind"
