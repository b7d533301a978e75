"""`mes masterdata load FILE`: records who loaded which file (its SHA-256) in the audit trail, and refuses
a document with duplicate records, unknown station types or codes longer than their columns, changing
nothing and without a traceback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main as mes
from app.services.master_data import DEMO_DOCUMENT
from tests.conftest import DbUnderTest, query_rows


def _demo() -> dict[str, Any]:
    return json.loads(DEMO_DOCUMENT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _write(tmp_path: Path, document: dict[str, Any], name: str = "line.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _changed_demo() -> dict[str, Any]:
    document = _demo()
    document["stations"][0]["description"] = "coil expander, rebuilt 2026"  # CEX-01
    document["market_rules"][0]["source"] = "EU F-gas reading of 2026-11 (plant QA memo 17)"
    return document


def test_a_load_is_audited_as_the_person_named_with_the_file_and_its_sha256(
    database: DbUnderTest, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, _changed_demo(), "line-2026-11.json")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    assert mes(["masterdata", "load", str(path), "--by", "alice"]) == 0
    assert capsys.readouterr().out == "master data loaded: routes 2, product_models 3, market_rules 1, stations 8\n"
    events = query_rows(
        database.url,
        "SELECT entity_type, entity_id, actor_username, actor_role, reason FROM audit_event "
        "WHERE entity_type IN ('station', 'market_rule') AND action LIKE '%.update' ORDER BY id",
    )
    assert [(e[0], e[1]) for e in events] == [("market_rule", "EU/R290/monobloc_sealed"), ("station", "CEX-01")]
    for _, _, actor, role, reason in events:
        assert (actor, role) == ("cli:alice", None)
        assert reason == f"mes masterdata load line-2026-11.json (sha256 {digest})"
    assert mes(["audit", "verify"]) == 0


def test_a_load_without_a_name_is_audited_as_the_os_user(
    database: DbUnderTest, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "operator7")
    assert mes(["masterdata", "load", str(_write(tmp_path, _changed_demo()))]) == 0
    [(actor,)] = query_rows(
        database.url,
        "SELECT actor_username FROM audit_event WHERE entity_type = 'station' AND entity_id = 'CEX-01' "
        "AND action = 'station.update'",
    )
    assert actor == "cli:operator7"


def _refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert mes(["masterdata", "load", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    return captured.err


def test_a_document_naming_a_record_twice_is_refused_naming_the_duplicates(
    database: DbUnderTest, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _demo()
    document["product_models"].append(dict(document["product_models"][0], market="EXPORT"))
    document["stations"].append(dict(document["stations"][0], station_type="brazing"))
    document["market_rules"].append(dict(document["market_rules"][0], max_charge_g=999, source="typo row"))
    events_before = query_rows(database.url, "SELECT count(*) FROM audit_event")

    err = _refused(_write(tmp_path, document), capsys)
    for duplicate in ("product model HPM-06-R290-EVI", "station CEX-01", "market rule EU/R290/monobloc_sealed"):
        assert duplicate in err
    assert query_rows(database.url, "SELECT market FROM product_model WHERE code = 'HPM-06-R290-EVI'") == [("EU",)]
    cex = query_rows(database.url, "SELECT station_type FROM station WHERE station_id = 'CEX-01'")
    assert cex == [("coil_expansion",)]
    assert query_rows(database.url, "SELECT max_charge_g FROM market_rule") == [(150.0,)]
    assert query_rows(database.url, "SELECT count(*) FROM audit_event") == events_before


def test_a_document_with_a_station_of_an_unknown_type_is_refused(
    database: DbUnderTest, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _demo()
    document["stations"].append({"station_id": "TEL-01", "station_type": "teleporter", "line": "LINE-1"})
    err = _refused(_write(tmp_path, document), capsys)
    assert "'teleporter'" in err and "the known station types are brazing, charging" in err
    assert query_rows(database.url, "SELECT count(*) FROM station WHERE station_id = 'TEL-01'") == [(0,)]


def test_a_document_with_a_market_code_longer_than_its_column_is_refused(
    database: DbUnderTest, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _demo()
    document["market_rules"][0]["market"] = "M" * 40
    err = _refused(_write(tmp_path, document), capsys)
    assert "market_rules.0.market" in err and "at most 32 characters" in err
    assert query_rows(database.url, "SELECT count(*) FROM market_rule") == [(1,)]


def test_a_document_with_a_misspelt_field_is_refused_naming_it_not_loaded_without_it(
    database: DbUnderTest, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A field the MES does not know is a typo, not a comment: dropped, the station's OPC UA endpoint
    below would be cleared and the MES would stop talking to the coil expander."""
    document = _demo()
    cex = document["stations"][0]  # CEX-01
    cex["opcua_endpiont"] = "opc.tcp://10.0.0.5:4840/ashp-line/LINE-1"
    del cex["opcua_endpoint"]
    events_before = query_rows(database.url, "SELECT count(*) FROM audit_event")

    err = _refused(_write(tmp_path, document), capsys)
    assert "is not valid" in err and "stations.0.opcua_endpiont" in err and "Extra inputs are not permitted" in err
    endpoint = query_rows(database.url, "SELECT opcua_endpoint FROM station WHERE station_id = 'CEX-01'")
    assert endpoint == [("opc.tcp://127.0.0.1:4840/ashp-line/LINE-1",)]
    assert query_rows(database.url, "SELECT count(*) FROM audit_event") == events_before
