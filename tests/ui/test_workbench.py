"""The quality engineer's workbench in Chromium: search, birth record with plots, CSV, genealogy
hold (also against a server on PostgreSQL), SPC with Cpk, nameplate with ZPL, dashboard and
specification revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.driver import MONOBLOC, Line
from tests.ui.conftest import UiServer, screenshot

pytestmark = pytest.mark.browser
FINISHED = "HP26-0000201"
COIL_BATCH = "CB-UI-4711"
LOT_UNITS = [f"HP26-{n:07d}" for n in range(211, 215)]


@pytest.fixture
def page(qe_page: Any) -> Any:
    """Every workbench test is signed in as the demo quality engineer."""
    return qe_page


@pytest.fixture(scope="module")
def line_data(ui_server: UiServer) -> dict[str, Any]:
    """One finished unit, and four units whose coils came from one batch (for genealogy and SPC)."""
    line = Line(ui_server.client)
    for station_type in MONOBLOC:
        line.run(station_type, FINISHED)
    for seed, serial in enumerate(LOT_UNITS, start=3):
        line.run("coil_expansion", serial, overrides={"CoilBatch": COIL_BATCH}, seed=seed)
    return {"finished": FINISHED}


def test_search_by_serial_opens_the_birth_record_with_plots(page: Any, ui_server: UiServer, line_data: Any) -> None:
    page.goto(f"{ui_server.base}/ui/")
    page.fill('input[name="q"]', FINISHED)
    page.press('input[name="q"]', "Enter")
    page.wait_for_url(f"**/ui/units/{FINISHED}")
    page.wait_for_selector('.plot[data-drawn="yes"]')
    assert page.locator("section.attempt").count() == len(MONOBLOC)
    vacuum = page.locator('section.attempt:has(h3:text("vacuum dehydration")) .plot')
    vacuum.wait_for()
    page.wait_for_function("el => el.dataset.drawn === 'yes'", arg=vacuum.element_handle(), timeout=10_000)
    shapes = vacuum.evaluate("el => el.layout.shapes.map(s => s.y0)")
    assert 50.0 in shapes  # the 50 Pa target line
    assert vacuum.evaluate("el => el.data[0].y.length") > 100
    rise_fit = vacuum.evaluate("el => el.data.map(d => d.name)")
    assert any(name.startswith("rise-test fit") for name in rise_fit)
    bands = page.locator('section.attempt:has(h3:text("run in")) .band-plot')
    assert bands.count() == 2  # temperatures (K) and capacity/COP/power (% of the model)
    page.wait_for_function("el => el.dataset.drawn === 'yes'", arg=bands.first.element_handle())
    bands.first.scroll_into_view_if_needed()
    screenshot(page, "birth-record-run-in-bands-1280x800")
    vacuum.scroll_into_view_if_needed()
    screenshot(page, "birth-record-vacuum-1280x800")
    page.evaluate("window.scrollTo(0, 0)")
    assert page.locator("table.checks").first.is_visible()
    assert "spec revision" in page.locator("section.attempt").first.inner_text()
    screenshot(page, "birth-record-1280x800")
    csv = ui_server.client.get(f"/ui/units/{FINISHED}/birth-record.csv")
    assert csv.status_code == 200 and csv.text.startswith("serial,attempt_id")
    assert "ChargedMass_g" in csv.text


def test_a_verdict_is_re_derived_from_the_birth_record(page: Any, ui_server: UiServer, line_data: Any) -> None:
    page.goto(f"{ui_server.base}/ui/units/{FINISHED}")
    run_in = page.locator('section.attempt:has(h3:text("run in"))')
    run_in.locator("a.rederive").click()
    page.wait_for_url("**/ui/attempts/*/rederivation")
    outcome = page.locator("#rederivation-outcome")
    assert outcome.inner_text() == "Re-derived as recorded: PASS, every check alike."
    rows = page.locator("#rederivation-checks tr")
    assert rows.count() > 30  # the header and every run-in check, recorded beside re-derived
    assert page.locator("#rederivation-checks td:text-is('alike')").count() == rows.count() - 1
    screenshot(page, "rederivation-run-in-1280x800")
    page.click(f"text={FINISHED}, attempt")
    page.wait_for_url(f"**/ui/units/{FINISHED}*")


@pytest.mark.ui_backends("sqlite", "postgres")
def test_search_by_lot_leads_to_the_genealogy_and_hold_all_holds_every_unit(
    page: Any, ui_server: UiServer, line_data: Any
) -> None:
    page.goto(f"{ui_server.base}/ui/?q={COIL_BATCH}")
    page.click("text=reverse genealogy")
    page.wait_for_selector("#genealogy")
    assert page.locator("#genealogy tr").count() == len(LOT_UNITS) + 1
    page.fill("#hold-all-reason", "coil batch suspected of thin tube walls")
    assert "quality1" in page.locator("#hold-all-by").inner_text()  # held by the signed-in user
    page.click('#hold-all button[type="submit"]')
    page.wait_for_selector("#hold-all-message.ok")
    assert f"{len(LOT_UNITS)} unit(s) put on hold" in page.locator("#hold-all-message").inner_text()
    statuses = page.locator("#genealogy td.status-cell").all_inner_texts()
    assert statuses == ["on_hold"] * len(LOT_UNITS)
    screenshot(page, "genealogy-hold-1280x800")
    for serial in LOT_UNITS:
        assert ui_server.client.get(f"/api/v1/units/{serial}").json()["status"] == "on_hold"
    held_by = {h["created_by"] for h in ui_server.client.get("/api/v1/holds").json() if h["serial"] in LOT_UNITS}
    assert held_by == {"quality1"}


def test_the_spc_page_shows_the_chart_and_cpk(page: Any, ui_server: UiServer, line_data: Any) -> None:
    page.goto(f"{ui_server.base}/ui/spc?characteristic=coil_expansion:fin_pitch&model=HPM-06-R290-EVI")
    page.wait_for_selector('#i-chart[data-drawn="yes"]')
    cpk = page.locator("#cpk").inner_text()
    assert cpk != "—" and float(cpk) > 0
    screenshot(page, "spc-1280x800")


def test_the_spc_page_draws_each_coils_hairpins_on_xbar_and_s_charts(
    page: Any, ui_server: UiServer, line_data: Any
) -> None:
    page.goto(f"{ui_server.base}/ui/spc?characteristic=coil_expansion:hairpin_peak_force&model=HPM-06-R290-EVI")
    page.wait_for_selector('#i-chart[data-drawn="yes"]')
    coils = len(LOT_UNITS) + 1
    means = page.locator("#i-chart").evaluate("el => el.data[0].y.length")
    spreads = page.locator("#mr-chart").evaluate("el => el.data.map(d => d.y.length)")
    assert means == coils and spreads == [coils] * 4  # s of each coil, its centre line and limits
    assert "X̄" in page.locator("#i-chart").evaluate("el => el.layout.title.text")
    assert float(page.locator("#ppk").inner_text()) > 0
    screenshot(page, "spc-xbar-s-1280x800")


def test_the_nameplate_page_shows_a_barcode_and_the_zpl_downloads(
    page: Any, ui_server: UiServer, line_data: Any
) -> None:
    page.goto(f"{ui_server.base}/ui/units/{FINISHED}/nameplate")
    label = page.locator("#label")
    assert label.locator("svg").count() == 1
    text = label.inner_text()
    assert "R290" in text and "CO2 equivalent" in text and "COP 4.8" in text
    with page.expect_download() as download:
        page.click("#zpl-link")
    zpl = Path(download.value.path()).read_text(encoding="utf-8")
    assert zpl.startswith("^XA") and f"^BCN,110,Y,N,N^FD{FINISHED}^FS" in zpl and zpl.rstrip().endswith("^XZ")
    screenshot(page, "nameplate-1280x800")


def test_the_dashboard_shows_throughput_yield_and_stations(page: Any, ui_server: UiServer, line_data: Any) -> None:
    page.goto(f"{ui_server.base}/ui/dashboard")
    page.wait_for_selector('#throughput[data-drawn="yes"]')
    assert int(page.locator("#finished-total").inner_text()) >= 1
    assert "VAC-01" in page.locator("#stations").inner_text()
    screenshot(page, "dashboard-1280x800")


def test_a_run_in_revision_shows_the_uncertainties_it_propagates(
    page: Any, ui_server: UiServer, line_data: Any
) -> None:
    page.goto(f"{ui_server.base}/ui/specs?station_type=run_in&model=HPM-06-R290-EVI")
    revision_id = page.locator("#revisions tr:nth-child(2) td:first-child").inner_text()
    page.goto(f"{ui_server.base}/ui/specs/{revision_id}")
    settings = page.locator("#settings").inner_text()
    assert "instrument_water_flow_fraction" in settings and "model_capacity_fraction" in settings
    capacity = page.locator("#limits tr", has_text="capacity_residual_fraction").inner_text()
    assert "from the settings, through the model" in capacity
    drift = page.locator("#limits tr", has_text="air_sensor_drift_k").inner_text()
    assert "from the settings" not in drift  # a limit with its own U shows it


def test_a_spec_revision_is_drafted_compared_and_approved(page: Any, ui_server: UiServer, line_data: Any) -> None:
    page.goto(f"{ui_server.base}/ui/specs?station_type=brazing&model=HPM-06-R290-EVI")
    base_id = page.locator("#revisions tr:nth-child(2) td:first-child").inner_text()
    page.select_option("#d-station", "brazing")
    page.select_option("#d-model", "HPM-06-R290-EVI")
    page.fill("#d-based", base_id)
    page.fill("#d-overrides", '{"limits": {"o2_ppm": {"high": 40, "uncertainty": 1.5}}}')
    page.click('#draft-form button[type="submit"]')
    page.wait_for_selector("#approve-form")
    assert page.locator("#spec-status").inner_text() == "draft"
    draft_url = page.url
    page.click("text=compare")
    changed = page.locator("#compare tr.diff-changed").all_inner_texts()
    assert any("o2_ppm.high" in row for row in changed)
    screenshot(page, "spec-compare-1280x800")
    page.goto(draft_url)
    page.fill("#a-reason", "tighter oxygen limit after furnace audit")
    page.fill("#a-secret", "demo-quality")  # the e-signature: the signed-in approver's password again
    page.click('#approve-form button[type="submit"]')
    page.wait_for_function("document.getElementById('spec-status').textContent === 'approved'")
    assert "quality1" in page.locator("#spec-signature").inner_text()
