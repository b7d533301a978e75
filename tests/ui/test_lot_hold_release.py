"""The genealogy page in Chromium: "hold all" places a lot hold, shown with its units still held, and
"release all" releases it whole with one e-signature (also against a server on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.driver import Line
from tests.ui.conftest import SUPERVISOR, UiServer, Watch, new_page, screenshot, sign_in

pytestmark = pytest.mark.browser
COIL_BATCH = "CB-UI-LOT-31"
LOT_UNITS = [f"HP26-{n:07d}" for n in range(311, 314)]


@pytest.fixture
def page(qe_page: Any) -> Any:
    return qe_page


@pytest.mark.ui_backends("sqlite", "postgres")
def test_a_lot_hold_is_released_whole_from_the_genealogy_with_one_e_signature(
    page: Any, ui_server: UiServer, browser: Any, watch: Watch
) -> None:
    line = Line(ui_server.client)
    for seed, serial in enumerate(LOT_UNITS, start=3):
        line.run("coil_expansion", serial, overrides={"CoilBatch": COIL_BATCH}, seed=seed)
    also_held = LOT_UNITS[1]
    other = ui_server.client.post(f"/api/v1/units/{also_held}/holds", json={"reason": "dented side panel"})
    assert other.status_code == 201, other.text

    page.goto(f"{ui_server.base}/ui/genealogy?identifier={COIL_BATCH}")
    assert page.locator("#lot-holds").count() == 0  # no lot hold yet
    page.fill("#hold-all-reason", "coil batch suspected of thin tube walls")
    page.click('#hold-all button[type="submit"]')
    page.wait_for_selector("#hold-all-message.ok")
    [row] = page.locator("#lot-holds tr[data-lot-hold]").all()
    lot_hold_id = row.get_attribute("data-lot-hold")
    assert row.locator("td.lot-hold-active").inner_text() == f"{len(LOT_UNITS)} of {len(LOT_UNITS)}"
    assert "coil batch suspected of thin tube walls" in row.inner_text() and "quality1" in row.inner_text()
    held = ui_server.client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()
    assert sorted(h["serial"] for h in held) == LOT_UNITS

    # a held unit's birth record says which lot hold holds it, and leads to the page that releases it whole
    first_hold = next(h["id"] for h in held if h["serial"] == LOT_UNITS[0])
    page.goto(f"{ui_server.base}/ui/units/{LOT_UNITS[0]}")
    link = page.locator(f'#holds tr[data-hold="{first_hold}"] a.lot-hold')
    assert link.inner_text() == f"lot hold {lot_hold_id}"
    scope = page.locator(f'#holds tr[data-hold="{first_hold}"] td:nth-child(3)').inner_text()
    assert scope == f"lot hold {lot_hold_id}: every unit with {COIL_BATCH}", scope
    link.click()
    page.locator(f'#lot-holds tr[data-lot-hold="{lot_hold_id}"]').wait_for()

    release = page.locator(f"#release-lot-{lot_hold_id}")
    page.click(f"text=Release all {len(LOT_UNITS)} unit(s) still held by lot hold {lot_hold_id}")
    release.locator("select[name=disposition]").select_option("use_as_is")
    release.locator("input[name=reason]").fill("wall thickness measured on 5 coils: in tolerance")
    release.locator("input[name=secret]").fill("not-my-password")
    screenshot(page, "genealogy-lot-hold-release-form-1280x800")
    release.locator("button").click()
    release.locator(".form-message.error").wait_for()
    assert "did not match: nothing was signed" in release.locator(".form-message").inner_text()
    refused = [e for e in watch.errors if "status of 403" in e]  # the browser logs the refused signature
    assert len(refused) == 1
    watch.errors[:] = [e for e in watch.errors if e not in refused]
    assert len(ui_server.client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()) == len(LOT_UNITS)

    release.locator("input[name=secret]").fill("demo-quality")
    release.locator("button").click()
    page.locator("#hold-all-message.ok:has-text('released')").wait_for()  # after the reload
    message = page.locator("#hold-all-message").inner_text()
    assert f"{len(LOT_UNITS)} hold(s) of lot hold {lot_hold_id} released (use_as_is), e-signed" in message, message
    assert f"still held for another reason: {also_held}" in message, message
    assert page.locator(f'#lot-holds tr[data-lot-hold="{lot_hold_id}"] td.lot-hold-active').inner_text() == (
        f"0 of {len(LOT_UNITS)}"
    )
    assert page.locator(f"#release-lot-{lot_hold_id}").count() == 0  # nothing left to release
    statuses = dict(
        zip(
            page.locator("#genealogy tr:has(td) td:first-child").all_inner_texts(),
            page.locator("#genealogy td.status-cell").all_inner_texts(),
            strict=True,
        )
    )
    assert statuses == {LOT_UNITS[0]: "in_process", also_held: "on_hold", LOT_UNITS[2]: "in_process"}
    screenshot(page, "genealogy-lot-hold-released-1280x800")
    signatures = {
        h["release_signature"]["id"]
        for h in ui_server.client.get("/api/v1/holds", params={"active": False, "lot_hold_id": lot_hold_id}).json()
    }
    assert len(signatures) == 1  # one e-signature for the whole lot

    # offered by role: a supervisor may release a lot hold, an admin reads the page only
    again = ui_server.client.post(
        "/api/v1/holds/by-component", json={"identifier": COIL_BATCH, "reason": "second look at the batch"}
    )
    assert again.status_code == 201, again.text
    offered = {}
    admin = {"username": "admin1", "password": "demo-admin-pw"}
    for who, credentials in (("supervisor", SUPERVISOR), ("admin", admin)):
        other_page = new_page(browser, watch)
        sign_in(other_page, ui_server.base, credentials)
        other_page.goto(f"{ui_server.base}/ui/genealogy?identifier={COIL_BATCH.lower()}")
        offered[who] = (
            other_page.locator("#lot-holds tr[data-lot-hold]").count(),
            other_page.locator("form[id^=release-lot-]").count(),
        )
        other_page.context.close()
    assert offered == {"supervisor": (2, 1), "admin": (2, 0)}
