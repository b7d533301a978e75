"""The verdict that counts on the birth record (SQLite and PostgreSQL): a quality engineer's override
over the engine's verdict is what the page's heading and the API's ``effective_verdict`` say, beside
the engine's verdict, which stays as judged."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.api.schemas import BirthRecordOut
from tests.api.driver import Line

QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _override(client: Any, attempt_id: int, verdict: str, reason: str) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/attempts/{attempt_id}/override",
        json={"verdict": verdict, "reason": reason, "signature": QUALITY_SIGNATURE},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _heading(page: str, attempt_id: int) -> tuple[str, str]:
    """The attempt's heading as read (tags dropped, spaces collapsed) and its verdict's CSS class."""
    found = re.search(rf'id="attempt-{attempt_id}">\s*<h3>(.*?)</h3>', page, re.S)
    assert found is not None, page
    verdict_class = re.search(r'class="(v-[A-Za-z_]+)"', found.group(1))
    assert verdict_class is not None
    return " ".join(re.sub("<[^>]+>", " ", found.group(1)).split()), verdict_class.group(1)


def test_the_birth_record_heading_shows_the_overridden_verdict_with_who_overrode_and_the_engines(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-5000001", quantity=1)[0]
    coil = line.run("coil_expansion", serial)["attempt"]
    override = _override(client, coil["id"], "FAIL", "fins crushed, seen by eye")

    heading, verdict_class = _heading(client.get(f"/ui/units/{serial}").text, coil["id"])
    assert heading == f"coil expansion at CEX-01 — FAIL (override by {override['by']}; engine PASS)"
    assert verdict_class == "v-FAIL"


def test_the_birth_record_heading_of_a_conceded_fail_shows_pass_and_the_engines_fail(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-5000002", quantity=1)[0]
    line.run("coil_expansion", serial)
    braze = line.run("brazing", serial, expect="FAIL", overrides={"O2_ppm": 90.0})["attempt"]
    override = _override(client, braze["id"], "PASS", "O2 probe drifted; joints checked by hand")
    heading, verdict_class = _heading(client.get(f"/ui/units/{serial}").text, braze["id"])
    assert heading.startswith(f"brazing at BRZ-01 — PASS (override by {override['by']}; engine FAIL)")
    assert verdict_class == "v-PASS"


def test_the_birth_record_api_gives_each_attempt_its_effective_verdict_beside_the_engines(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-5000003", quantity=1)[0]
    coil = line.run("coil_expansion", serial)["attempt"]
    braze = line.run("brazing", serial)["attempt"]
    assert braze["effective_verdict"] == braze["verdict"] == "PASS"  # the station's answer
    _override(client, braze["id"], "FAIL", "filler missing on the suction joint")
    started = line.start("repair", serial)  # the override sent the unit down the rework path
    assert started.status_code == 201 and started.json()["attempt"]["effective_verdict"] is None

    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    BirthRecordOut.model_validate(record)
    [plain, overridden, repair] = record["attempts"]
    assert (plain["id"], plain["verdict"], plain["effective_verdict"]) == (coil["id"], "PASS", "PASS")
    assert (overridden["verdict"], overridden["effective_verdict"]) == ("PASS", "FAIL")
    assert (repair["status"], repair["verdict"], repair["effective_verdict"]) == ("open", None, None)
