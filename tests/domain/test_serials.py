from __future__ import annotations

import pytest

from app.config import SerialSettings
from app.domain.errors import InvalidInput
from app.domain.serials import SerialFormat

DEMO = SerialSettings().format()


@pytest.mark.parametrize("serial", ["HP26-0000123", "HP99-9999999", "HP00-0000000"])
def test_demo_format_accepts_plant_serials(serial: str) -> None:
    assert DEMO.validate(serial) == serial


@pytest.mark.parametrize(
    "serial",
    [
        "HP26-000012",
        "HP26-00001234",
        "hp26-0000123",
        "HP2-0000123",
        "HP26_0000123",
        " HP26-0000123",
        "HP26-0000123\n",
        "",
        "HP26-00001２3",
    ],
)
def test_demo_format_refuses_anything_else_with_the_expected_form(serial: str) -> None:
    with pytest.raises(InvalidInput, match="expected HP \\+ two-digit year"):
        DEMO.validate(serial)


def test_range_expansion_keeps_width_and_refuses_overflow() -> None:
    assert DEMO.expand("HP26-0000998", 3) == ["HP26-0000998", "HP26-0000999", "HP26-0001000"]
    with pytest.raises(InvalidInput, match="runs past"):
        DEMO.expand("HP26-9999999", 2)


def test_a_plant_can_configure_its_own_format() -> None:
    fmt = SerialFormat(pattern=r"(?P<line>[A-Z])(?P<seq>\d{5})X", description="a letter, 5 digits, X")
    assert fmt.expand("B00009X", 2) == ["B00009X", "B00010X"]
    with pytest.raises(ValueError, match="named group 'seq'"):
        SerialFormat(pattern=r"\d+", description="digits")
