"""Specification revisions and master data refuse what would leave units without a verdict or FAIL them
all: a retest cap beyond its bound, a one-sided limit of a quantity that cannot be negative whose U
leaves no PASS band, and a product model whose nominal charge (plus its tolerance) is over the market
charge cap that applies to it, whether the model or the market rule changes."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import stations
from app.domain.actors import SYSTEM
from app.domain.errors import InvalidInput
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence.db import make_engine, make_session_factory
from app.services import master_data
from app.services.master_data import DEMO_DOCUMENT

MAX_RETEST_CAP = 5  # app.rules.spec.MAX_RETEST_CAP, the documented bound
R290_MODEL = "HPM-06-R290-EVI"  # EU, R290, factory sealed: 140 g ± 2 g under the 150 g cap
EU_R290_SOURCE = "Project seed value for EU factory-sealed R290 monoblocs"


def _draft(client: Any, station_type: str, overrides: dict[str, Any], model: str = R290_MODEL) -> Any:
    return client.post(
        "/api/v1/spec-revisions",
        json={"station_type": station_type, "product_model": model, "overrides": overrides},
    )


def _demo_model(code: str = R290_MODEL) -> dict[str, Any]:
    return next(p for p in json.loads(DEMO_DOCUMENT.read_text())["product_models"] if p["code"] == code)


def _eu_r290_rule(max_charge_g: float) -> dict[str, Any]:
    return {
        "market": "EU",
        "refrigerant": "R290",
        "construction": "monobloc_sealed",
        "max_charge_g": max_charge_g,
        "source": "national rule X, 2026",
    }


def test_a_retest_cap_beyond_its_bound_is_refused_saying_the_bound(client: Any) -> None:
    refused = _draft(client, "leak_test", {"retest_cap": 1_000_000})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "retest_cap" in detail and f"at most {MAX_RETEST_CAP}" in detail and "1000000" in detail

    accepted = _draft(client, "leak_test", {"retest_cap": MAX_RETEST_CAP})
    assert accepted.status_code == 201, accepted.text
    edit = client.put(f"/api/v1/spec-revisions/{accepted.json()['id']}", json={"overrides": {"retest_cap": 6}})
    assert edit.status_code == 422 and f"at most {MAX_RETEST_CAP}" in edit.json()["detail"], edit.text


def test_every_station_types_default_retest_cap_is_within_the_bound() -> None:
    assert all(0 <= st.retest_cap <= MAX_RETEST_CAP for st in stations.all_station_types())


@pytest.mark.parametrize(
    ("station_type", "limits", "limit"),
    [
        ("leak_test", {"leak_rate_g_per_year": {"uncertainty": 3.0}}, "leak_rate_g_per_year"),  # U = the limit
        ("leak_test", {"leak_rate_g_per_year": {"high": 0.1}}, "leak_rate_g_per_year"),  # limit under U 0.2
        ("brazing", {"o2_ppm": {"high": 2.0}}, "o2_ppm"),
        ("sub_base_assembly", {"earth_continuity_ohm": {"uncertainty": 0.5}}, "earth_continuity_ohm"),
        ("vacuum_dehydration", {"target_pressure_pa": {"uncertainty": 60.0}}, "target_pressure_pa"),
        # a low below zero does not open a PASS band a leak rate cannot reach
        ("leak_test", {"leak_rate_g_per_year": {"low": -5.0, "high": 0.1}}, "leak_rate_g_per_year"),
    ],
)
def test_a_one_sided_limit_of_a_quantity_that_cannot_be_negative_whose_u_leaves_no_pass_band_is_refused(
    client: Any, station_type: str, limits: dict[str, Any], limit: str
) -> None:
    refused = _draft(client, station_type, {"limits": limits})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert limit in detail and "no PASS band" in detail and "cannot be below 0" in detail


def test_a_one_sided_limit_with_a_pass_band_left_is_accepted_and_so_is_a_signed_quantitys(client: Any) -> None:
    assert _draft(client, "leak_test", {"limits": {"leak_rate_g_per_year": {"uncertainty": 2.9}}}).status_code == 201
    # a discharge temperature may fall when the EVI valve opens: a rise limit at U is not refused
    signed = _draft(client, "run_in", {"limits": {"evi_discharge_rise_k": {"high": 0.5, "uncertainty": 0.5}}})
    assert signed.status_code == 201, signed.text


def test_every_default_limit_restated_by_a_revision_is_accepted(client: Any) -> None:
    """The station defaults (with the demo products' data) pass the revision's checks themselves."""
    for st in stations.all_station_types():
        restated = {
            lim.name: {"uncertainty": lim.uncertainty}
            for lim in st.limits
            if not lim.set_elsewhere and not lim.uncertainty_from_model
        }
        r = _draft(client, st.code, {"limits": restated})
        assert r.status_code == 201, (st.code, r.text)


@pytest.mark.parametrize(("nominal", "tolerance"), [(151.0, 2.0), (149.0, 2.0)])
def test_a_product_model_whose_nominal_charge_and_tolerance_exceed_its_market_cap_is_refused(
    client: Any, nominal: float, tolerance: float
) -> None:
    model = _demo_model() | {"code": "HPM-07-R290-EVI", "nominal_charge_g": nominal, "charge_tolerance_g": tolerance}
    refused = client.put("/api/v1/product-models/HPM-07-R290-EVI", json=model)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "HPM-07-R290-EVI" in detail and f"nominal charge {nominal:g} g + {tolerance:g} g tolerance" in detail
    assert "150 g" in detail and "EU/R290/monobloc_sealed" in detail and EU_R290_SOURCE in detail
    assert client.get("/api/v1/product-models/HPM-07-R290-EVI").status_code == 404

    existing = _demo_model() | {"nominal_charge_g": nominal, "charge_tolerance_g": tolerance}
    assert client.put(f"/api/v1/product-models/{R290_MODEL}", json=existing).status_code == 422
    assert client.get(f"/api/v1/product-models/{R290_MODEL}").json()["nominal_charge_g"] == 140


def test_a_product_model_that_fits_its_cap_exactly_or_moves_to_a_market_without_a_rule_is_accepted(
    client: Any,
) -> None:
    at_cap = _demo_model() | {"code": "HPM-07-R290-EVI", "nominal_charge_g": 148.0, "charge_tolerance_g": 2.0}
    assert client.put("/api/v1/product-models/HPM-07-R290-EVI", json=at_cap).status_code == 200
    export = at_cap | {"code": "HPM-08-R290-EVI", "nominal_charge_g": 300.0, "market": "EXPORT"}
    assert client.put("/api/v1/product-models/HPM-08-R290-EVI", json=export).status_code == 200
    # ... but not back into the EU with that charge
    r = client.put("/api/v1/product-models/HPM-08-R290-EVI", json=export | {"market": "EU"})
    assert r.status_code == 422 and "HPM-08-R290-EVI" in r.json()["detail"], r.text


def test_a_market_rule_that_would_put_a_product_model_over_its_cap_is_refused_naming_it(client: Any) -> None:
    refused = client.put("/api/v1/market-rules", json=_eu_r290_rule(141))
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert R290_MODEL in detail and "nominal charge 140 g + 2 g tolerance" in detail
    assert "141 g" in detail and "EU/R290/monobloc_sealed" in detail and "national rule X, 2026" in detail
    assert [r["max_charge_g"] for r in client.get("/api/v1/market-rules").json()] == [150]

    assert client.put("/api/v1/market-rules", json=_eu_r290_rule(142)).status_code == 200  # 140 + 2 fits
    # a new rule for a market that had none is checked the same way
    new_rule = _eu_r290_rule(1000) | {"market": "EXPORT", "refrigerant": "R32"}
    refused = client.put("/api/v1/market-rules", json=new_rule)
    assert refused.status_code == 409 and "HPM-12-R32-EVI" in refused.json()["detail"], refused.text


def _demo_with(*, max_charge_g: float, nominal_charge_g: float) -> master_data.MasterDataDocument:
    """The demo document with the EU R290 cap and the R290 model's nominal charge changed."""
    document = json.loads(DEMO_DOCUMENT.read_text())
    (rule,) = document["market_rules"]
    rule["max_charge_g"] = max_charge_g
    next(p for p in document["product_models"] if p["code"] == R290_MODEL)["nominal_charge_g"] = nominal_charge_g
    return master_data.MasterDataDocument.model_validate(document)


def _load(sessions: sessionmaker[Session], document: master_data.MasterDataDocument) -> None:
    with sessions() as session, session.begin():
        master_data.load_document(session=session, document=document, actor=SYSTEM)


def test_a_master_data_document_is_checked_against_the_caps_once_all_its_records_are_in(
    sessions: sessionmaker[Session],
) -> None:
    _load(sessions, master_data.read_document(DEMO_DOCUMENT))  # the demo loads again

    # the cap raised and the charge raised over the old cap in one document: loads
    _load(sessions, _demo_with(max_charge_g=160, nominal_charge_g=155))
    # the cap lowered and the charge lowered under the new cap in one document: loads
    _load(sessions, _demo_with(max_charge_g=145, nominal_charge_g=142))

    with pytest.raises(InvalidInput) as refused:
        _load(sessions, _demo_with(max_charge_g=145, nominal_charge_g=144))
    assert R290_MODEL in refused.value.detail and "nominal charge 144 g + 2 g tolerance" in refused.value.detail
    with sessions() as session:  # nothing of the refused document stayed
        assert repo.product_model_by_code(session, R290_MODEL).nominal_charge_g == 142
        assert session.scalars(select(m.MarketRule.max_charge_g)).all() == [145]


def test_a_revisions_charge_limit_above_the_market_cap_is_refused_naming_the_cap(client: Any) -> None:
    refused = _draft(client, "charging", {"limits": {"charged_mass_g": {"low": 150.0, "high": 160.0}}})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "charged_mass_g" in detail and "160 g is over market_cap_g 150 g" in detail and "market rule" in detail

    at_the_cap = _draft(client, "charging", {"limits": {"charged_mass_g": {"low": 140.0, "high": 150.0}}})
    assert at_the_cap.status_code == 201, at_the_cap.text
    export = _draft(client, "charging", {"limits": {"charged_mass_g": {"high": 2000.0}}}, model="HPM-12-R32-EVI")
    assert export.status_code == 201, export.text  # an export model: its market has no cap rule


def test_a_revisions_charge_limit_a_fraction_of_a_gram_over_the_market_cap_is_refused(client: Any) -> None:
    refused = _draft(client, "charging", {"limits": {"charged_mass_g": {"low": 140.0, "high": 150.5}}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        "the specification is not valid: limit 'charged_mass_g': its high 150.5 g is over market_cap_g 150 g "
        "(market rule: market × refrigerant × construction → max charge): a unit passing charged_mass_g above it "
        "would FAIL at market_cap_g; keep the high at or below 150 g"
    )


def _eu_r290_split(nominal_charge_g: float) -> dict[str, Any]:
    """An EU split outdoor unit on R290, charged on the line (the demo has none)."""
    return _demo_model("HPS-10-R32") | {
        "code": "HPS-08-R290",
        "refrigerant": "R290",
        "gwp": 3,
        "market": "EU",
        "nominal_charge_g": nominal_charge_g,
        "charge_tolerance_g": 5.0,
    }


def test_a_market_rule_caps_only_its_own_construction(client: Any) -> None:
    """The 150 g cap is for EU factory-sealed R290 monoblocs: an EU R290 split has no cap until a rule
    for splits says so, and a rule for splits does not cap the monobloc."""
    split = client.put("/api/v1/product-models/HPS-08-R290", json=_eu_r290_split(300.0))
    assert split.status_code == 200, split.text

    split_rule = _eu_r290_rule(300.0) | {"construction": "split_outdoor"}
    refused = client.put("/api/v1/market-rules", json=split_rule)
    assert refused.status_code == 409, refused.text
    assert refused.json()["product_models"] == ["HPS-08-R290"]  # not the 140 g monobloc
    assert refused.json()["detail"].startswith(
        "market rule EU/R290/split_outdoor: a cap of 300 g (source: national rule X, 2026) is under the charge "
        "of product model HPS-08-R290 (nominal charge 300 g + 5 g tolerance = 305 g)"
    )
    assert client.put("/api/v1/market-rules", json=split_rule | {"max_charge_g": 305.0}).status_code == 200
    caps = {(r["construction"], r["max_charge_g"]) for r in client.get("/api/v1/market-rules").json()}
    assert caps == {("monobloc_sealed", 150), ("split_outdoor", 305)}


def test_a_charge_raised_and_a_cap_lowered_at_once_cannot_both_pass_against_the_others_old_value(
    pg_database: Any,
) -> None:
    """Write skew (PostgreSQL): HPM-06 raised to 148 g + 2 g (fits 150 g) while the cap is lowered to 145 g
    (fits the old 140 g + 2 g); each check alone passes against what the other has not committed. The
    second waits for the first and is refused."""
    model_in = master_data.ProductModelIn.model_validate(_demo_model() | {"nominal_charge_g": 148.0})
    rule_in = master_data.MarketRuleIn.model_validate(_eu_r290_rule(145.0))
    engine = make_engine(pg_database.url)
    sessions = make_session_factory(engine)
    first, second = sessions(), sessions()
    outcome: dict[str, str] = {}

    def lower_the_cap() -> None:
        try:
            with second.begin():
                master_data.upsert_market_rule(session=second, rule_in=rule_in, actor=SYSTEM)
            outcome["cap"] = "accepted"
        except Exception as exc:  # the refusal, as the API would render it
            outcome["cap"] = f"{type(exc).__name__}: {exc}"

    try:
        with first.begin():
            master_data.upsert_product_model(session=first, model_in=model_in, actor=SYSTEM)
            racer = threading.Thread(target=lower_the_cap)
            racer.start()
            racer.join(2.0)
            assert racer.is_alive() and not outcome  # waits for the charge's transaction
        racer.join(20.0)
        assert outcome["cap"].startswith("Conflict: market rule EU/R290/monobloc_sealed: a cap of 145 g"), outcome
        with sessions() as check:
            model = check.scalars(select(m.ProductModel).where(m.ProductModel.code == R290_MODEL)).one()
            assert (model.nominal_charge_g, _eu_r290_cap(check)) == (148.0, 150.0)
    finally:
        first.close()
        second.close()
        engine.dispose()


def _eu_r290_cap(session: Session) -> float:
    rule = master_data.market_cap_g(session, market="EU", refrigerant="R290", construction="monobloc_sealed")
    assert rule is not None
    return rule.max_charge_g
