"""The nameplate label: ZPL structure, barcode field, and data that cannot inject printer commands."""

from __future__ import annotations

from app.rules.nameplate import Nameplate
from app.rules.product import RatingPoint
from app.ui.labels import barcode_svg, label_lines, zpl


def _plate(**changes: object) -> Nameplate:
    fields: dict[str, object] = dict(
        model_code="HPM-06-R290-EVI",
        refrigerant="R290",
        gwp=3.0,
        charge_status="factory_charged",
        charge_text="R290 0.140 kg, GWP 3, 0.0004 t CO2e",
        charged_mass_kg=0.140,
        co2_equivalent_t=0.00042,
        hermetically_sealed=True,
        ratings=(RatingPoint(point="A7/W35", mode="heating", capacity_kw=6.0, efficiency=4.8),),
    )
    fields.update(changes)
    return Nameplate(**fields)  # type: ignore[arg-type]


def test_the_zpl_label_carries_the_serial_as_code_128_and_the_f_gas_figures() -> None:
    label = zpl(serial="HP26-0000001", plate=_plate())
    assert label.startswith("^XA") and label.rstrip().endswith("^XZ")
    assert "^BCN,110,Y,N,N^FDHP26-0000001^FS" in label
    assert "^FDCharge 0.140 kg^FS" in label
    assert "^FDCO2 equivalent 0.00042 t^FS" in label
    assert "^FDA7/W35 heating: 6 kW, COP 4.8^FS" in label


def test_a_split_unit_says_it_is_charged_on_site() -> None:
    plate = _plate(
        charge_status="charged_on_site",
        charge_text="charged on site",
        charged_mass_kg=None,
        co2_equivalent_t=None,
        hermetically_sealed=False,
    )
    lines = label_lines(serial="HP26-0002001", plate=plate)
    assert "charged on site" in lines
    assert not any("CO2" in line for line in lines)


def test_label_data_cannot_start_printer_commands() -> None:
    label = zpl(serial="HP26-0000001", plate=_plate(model_code="EVIL^XZ~JR"))
    assert "^XZ~JR" not in label
    assert label.count("^XZ") == 1


def test_the_barcode_is_an_inline_svg() -> None:
    svg = barcode_svg("HP26-0000001")
    assert svg is not None and svg.startswith("<svg") and "<rect" in svg
