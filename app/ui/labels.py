"""The nameplate label: ZPL for industrial label printers and an SVG barcode for the printable page."""

from __future__ import annotations

import io
import re

from app.rules.nameplate import Nameplate

DOTS_PER_MM = 8  # 203 dpi printheads
LABEL_WIDTH_MM = 100
LINE_DOTS = 34


def _field(text: str) -> str:
    """ZPL field data: ^ and ~ start commands, so they never reach the printer from data."""
    return text.replace("^", " ").replace("~", " ")


def label_lines(*, serial: str, plate: Nameplate) -> list[str]:
    """The text lines of the label below the model and barcode, in the order printed."""
    lines = [f"Refrigerant {plate.refrigerant} (GWP {plate.gwp:g})"]
    if plate.charged_mass_kg is None:
        lines.append(plate.charge_text)
    else:
        lines.append(f"Charge {plate.charged_mass_kg:.3f} kg")
    if plate.co2_equivalent_t is not None:
        lines.append(f"CO2 equivalent {plate.co2_equivalent_t:.3g} t")
    if plate.hermetically_sealed:
        lines.append("Hermetically sealed equipment")
    for rating in plate.ratings:
        word = "COP" if rating.mode == "heating" else "EER"
        lines.append(f"{rating.point} {rating.mode}: {rating.capacity_kw:g} kW, {word} {rating.efficiency:g}")
    lines.append(f"S/N {serial}")
    return lines


def zpl(*, serial: str, plate: Nameplate) -> str:
    """A ZPL II label: model, the serial as a Code 128 barcode, refrigerant, charge, CO2e, ratings."""
    width = LABEL_WIDTH_MM * DOTS_PER_MM
    out = ["^XA", "^CI28", f"^PW{width}", "^LH0,0"]
    out.append(f"^FO40,30^A0N,48,48^FD{_field(plate.model_code)}^FS")
    out.append(f"^FO40,95^BY3^BCN,110,Y,N,N^FD{_field(serial)}^FS")
    y = 250
    for line in label_lines(serial=serial, plate=plate):
        out.append(f"^FO40,{y}^A0N,28,28^FD{_field(line)}^FS")
        y += LINE_DOTS
    out.append(f"^LL{y + 30}")
    out.append("^XZ")
    return "\n".join(out) + "\n"


def barcode_svg(serial: str) -> str | None:
    """The serial as an inline Code 128 SVG (python-barcode); None when that package is missing."""
    try:
        import barcode
        from barcode.writer import SVGWriter
    except ImportError:
        return None
    buffer = io.BytesIO()
    code = barcode.get("code128", serial, writer=SVGWriter())
    code.write(buffer, options={"module_width": 0.3, "module_height": 14.0, "write_text": False, "quiet_zone": 3.0})
    svg = buffer.getvalue().decode("utf-8")
    return re.sub(r"^.*?(<svg)", r"\1", svg, count=1, flags=re.S)
