"""Reverse genealogy as a quality engineer types it and reads it (SQLite and PostgreSQL): an identifier
is found whatever its case and surrounding spaces, and units are counted as units, on the page (which
shows the first units of a large lot, and says so) and in the API (whose rows are consumptions)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.ui import genealogy as genealogy_page
from tests.api.driver import Line
from tests.conftest import DbUnderTest

RUN = "FR-0500"


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _brazed_in_one_run(line: Line, quantity: int) -> list[str]:
    """Units brazed in furnace run FR-0500; the first one twice (a FAIL, the repair, a PASS in the same run)."""
    serials = line.work_order(first="HP26-5000001", quantity=quantity)
    for serial in serials:
        line.run("coil_expansion", serial)
    line.run("brazing", serials[0], expect="FAIL", overrides={"FurnaceRun": RUN, "O2_ppm": 90.0})
    assert line.start("repair", serials[0]).status_code == 201
    assert line.complete("repair", serials[0]).status_code == 200
    for serial in serials:
        line.run("brazing", serial, overrides={"FurnaceRun": RUN})
    return serials


def _page(client: Any, identifier: str, **params: str) -> tuple[int, list[str], str]:
    """The genealogy page's unit count, the serials of its table rows (a unit once per row), its text."""
    page = client.get("/ui/genealogy", params={"identifier": identifier, **params})
    assert page.status_code == 200, page.text
    count = re.search(r'id="gen-count"><b>(\d+)</b>', page.text)
    assert count is not None, page.text
    rows = re.findall(r'<tr[^>]*><td><a href="/ui/units/([^"]+)">', page.text)
    return int(count.group(1)), rows, page.text


def test_the_genealogy_page_shows_every_unit_it_counts_and_says_when_it_shows_only_the_first(
    line: Line, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = _brazed_in_one_run(line, 3)
    monkeypatch.setattr(genealogy_page, "SHOWN_UNITS", 3)  # a page's worth of units, as 500 are in a real lot
    total, rows, page = _page(client, RUN)
    assert total == 3 and sorted(set(rows)) == serials and rows.count(serials[0]) == 2
    assert "The table shows the first" not in page  # nothing cut

    monkeypatch.setattr(genealogy_page, "SHOWN_UNITS", 2)
    total, rows, page = _page(client, RUN)
    assert total == 3 and sorted(set(rows)) == serials[:2]
    note = re.search(r"The table shows the first [^<]*", page)
    assert note is not None and "first 2 of 3 units" in note.group(0), page


def test_the_api_genealogy_counts_units_beside_its_consumption_rows(line: Line, client: Any) -> None:
    serials = _brazed_in_one_run(line, 3)
    found = client.get("/api/v1/genealogy", params={"identifier": RUN}).json()
    # count stays what it always was (the entries of ``units``, a unit brazed twice listed twice)
    assert found["count"] == len(found["units"]) == 4
    assert found["unit_count"] == 3 and sorted({u["serial"] for u in found["units"]}) == serials
    assert [u["serial"] for u in found["units"]].count(serials[0]) == 2


def test_the_genealogy_finds_an_identifier_typed_in_another_case_or_with_surrounding_spaces(
    line: Line, client: Any
) -> None:
    serials = line.work_order(first="HP26-5100001", quantity=3)
    for serial in serials:
        line.run("coil_expansion", serial)
    for serial in serials[:2]:
        line.run("brazing", serial, overrides={"FurnaceRun": "FR-0001"})
    line.run("brazing", serials[2], overrides={"FurnaceRun": "FR-0002"})
    line.run("sub_base_assembly", serials[0])
    scanned = _compressor(client, serials[0])  # the simulator's serial, in upper case
    assert scanned.isupper() and scanned.lower() != scanned

    for typed in ("FR-0001", "fr-0001", " FR-0001", "FR-0001 ", "\tFr-0001\n"):
        r = client.get("/api/v1/genealogy", params={"identifier": typed})
        assert r.status_code == 200, (typed, r.text)
        body = r.json()
        assert body["identifier"] == typed.strip()
        assert sorted(u["serial"] for u in body["units"]) == serials[:2], typed
        assert {u["identifier"] for u in body["units"]} == {"FR-0001"}  # as recorded
    found = client.get("/api/v1/genealogy", params={"identifier": f" {scanned.lower()} ", "kind": "compressor"})
    assert [u["serial"] for u in found.json()["units"]] == [serials[0]]
    blank = client.get("/api/v1/genealogy", params={"identifier": "   "})
    assert blank.status_code == 422 and "identifier" in blank.json()["detail"], blank.text

    total, rows, page = _page(client, " fr-0001 ")
    assert total == 2 and sorted(rows) == serials[:2]
    # "hold all" names the run as recorded, so that it holds the units the page lists
    assert 'data-identifier="FR-0001"' in page
    held = client.post("/ui/genealogy/hold", json={"identifier": "FR-0001", "reason": "furnace O2 excursion"})
    assert held.status_code == 200 and held.json()["held"] == 2, held.text

    search = client.get("/ui/", params={"q": " fr-0001"})
    assert search.status_code == 200 and "consumed by 2 unit(s)" in search.text, search.text
    search = client.get("/ui/", params={"q": scanned.lower()})
    assert "compressor" in search.text and "consumed by 1 unit(s)" in search.text, search.text


def _compressor(client: Any, serial: str) -> str:
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    [compressor] = [c["identifier"] for a in record["attempts"] for c in a["components"] if c["kind"] == "compressor"]
    return compressor  # type: ignore[no-any-return]


def test_the_case_insensitive_genealogy_lookup_is_served_by_an_index(database: DbUnderTest) -> None:
    """lower(identifier) = lower(:identifier), the genealogy's lookup, reads ix_component_identifier_lower
    on both backends (PostgreSQL told not to scan the table, as it would on a table this small)."""
    lookup = "SELECT unit_id FROM component_use WHERE lower(identifier) = lower(:identifier) AND kind = :kind"
    engine = create_engine(database.owner)
    try:
        with engine.connect() as conn:
            if database.backend == "postgres":
                conn.execute(text("SET enable_seqscan = off"))
                plan = conn.execute(text("EXPLAIN " + lookup), {"identifier": "fr-0001", "kind": "furnace_run"})
            else:
                plan = conn.execute(
                    text("EXPLAIN QUERY PLAN " + lookup), {"identifier": "fr-0001", "kind": "furnace_run"}
                )
            described = " ".join(str(cell) for row in plan for cell in row)
    finally:
        engine.dispose()
    assert "ix_component_identifier_lower" in described, described


def test_the_genealogy_page_says_when_an_identifier_was_recorded_in_more_than_one_case(line: Line, client: Any) -> None:
    serials = line.work_order(first="HP26-5200001", quantity=3)
    for serial, run in zip(serials, ("FR-0001", "FR-0001", "fr-0001"), strict=True):
        line.run("coil_expansion", serial)
        line.run("brazing", serial, overrides={"FurnaceRun": run})

    total, rows, page = _page(client, "Fr-0001")
    assert total == 3 and sorted(rows) == serials
    note = re.search(r'id="gen-spellings">([^<]*)', page)
    assert note is not None and "FR-0001, fr-0001" in note.group(1), page
    assert 'data-identifier="Fr-0001"' in page  # "hold all" holds the spelling typed, and the note says so
