"""charging: refrigerant charge of monoblocs (splits are charged on site)."""

from app.domain.results import ComponentKind

from ._checks import PresenceCheck, RangeCheck
from ._schema import (
    Bounds,
    ComponentSpec,
    LimitDefault,
    MeasurementSpec,
    ProductView,
    ReworkDefault,
    StationType,
)


def _nominal_charge(product: ProductView) -> Bounds | None:
    if product.nominal_charge_g is None or product.charge_tolerance_g is None:
        return None
    return (
        product.nominal_charge_g - product.charge_tolerance_g,
        product.nominal_charge_g + product.charge_tolerance_g,
    )


def _market_cap(product: ProductView) -> Bounds | None:
    return None if product.market_cap_g is None else (None, product.market_cap_g)


STATION_TYPE = StationType(
    code="charging",
    title="Refrigerant charging",
    plant_name="charging",
    has_plc=True,
    measurements=(
        MeasurementSpec(name="ChargedMass_g", unit="g"),
        MeasurementSpec(name="CylinderLot", kind="string"),
        MeasurementSpec(name="LiquidTemp_C", unit="°C"),
        MeasurementSpec(name="LiquidPressure_bar", unit="bar"),
        MeasurementSpec(name="ChargeTime_s", unit="s"),
    ),
    extra_live_channels=("ChargedMass_g",),
    components=(ComponentSpec(kind=ComponentKind.CYLINDER_LOT, identifier="CylinderLot"),),
    checks=(
        RangeCheck(
            name="charged_mass",
            label="charged mass",
            measurement="ChargedMass_g",
            limit="charged_mass_g",
            failure_mode="charge_mass",
            no_limit_message="model {model} has no nominal charge: it is charged on site, not on the line",
        ),
        RangeCheck(
            name="market_charge_cap",
            label="charged mass against the market cap",
            measurement="ChargedMass_g",
            limit="market_cap_g",
            failure_mode="charge_cap",
            limit_required=False,
            no_limit_message="market {market} has no charge-cap rule for {refrigerant} {construction} units",
        ),
        PresenceCheck(name="cylinder_lot_recorded", label="cylinder lot", measurement="CylinderLot"),
    ),
    limits=(
        LimitDefault(
            name="charged_mass_g",
            unit="g",
            uncertainty=0.5,
            origin="product",
            from_product=_nominal_charge,
            note="nominal ± tolerance from the product model",
            non_negative=True,
            not_above="market_cap_g",
        ),
        LimitDefault(
            name="market_cap_g",
            unit="g",
            uncertainty=0.5,
            origin="product",
            from_product=_market_cap,
            note="market rule: market × refrigerant × construction → max charge",
            non_negative=True,
            set_elsewhere=(
                "the market charge cap is market-rule data with its source; change it in the market rules "
                "(PUT /api/v1/market-rules), not in a specification revision"
            ),
        ),
    ),
    retest_cap=1,
    failure_modes=("charge_mass", "charge_cap"),
    rework=(
        ReworkDefault(
            failure_mode="*",
            action="repair",
            reentry_station_type="vacuum_dehydration",
            note="recover the refrigerant",
        ),
    ),
)
