"""Serial numbers: a configurable format with a numeric sequence part, and ranges of them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class SerialFormat:
    """A serial format: a regular expression with a named group ``seq`` (the running number).

    ``description`` is what an operator is told when a serial does not match.
    """

    pattern: str
    description: str

    def __post_init__(self) -> None:
        compiled = re.compile(self.pattern)
        if "seq" not in compiled.groupindex:
            raise ValueError(f"serial pattern {self.pattern!r} needs a named group 'seq'")

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    def validate(self, serial: str) -> str:
        """Return the serial if it matches the plant's format, else raise InvalidInput."""
        if not isinstance(serial, str) or not self.regex.fullmatch(serial):
            shown = serial if isinstance(serial, str) and len(serial) <= 40 else f"{str(serial)[:40]}…"
            raise InvalidInput(
                f"'{shown}' is not a serial number of this plant: expected {self.description}",
                serial=shown if isinstance(serial, str) else None,
            )
        return serial

    def expand(self, first_serial: str, quantity: int) -> list[str]:
        """The ``quantity`` consecutive serials starting at ``first_serial``."""
        match = self.regex.fullmatch(self.validate(first_serial))
        assert match is not None
        start, end = match.span("seq")
        width = end - start
        first = int(match.group("seq"))
        last = first + quantity - 1
        if len(str(last)) > width:
            raise InvalidInput(
                f"a range of {quantity} serials from {first_serial} runs past the largest "
                f"{width}-digit number; start lower or release fewer"
            )
        head, tail = first_serial[:start], first_serial[end:]
        return [f"{head}{n:0{width}d}{tail}" for n in range(first, last + 1)]


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    compiled = _CACHE.get(pattern)
    if compiled is None:
        compiled = _CACHE[pattern] = re.compile(pattern)
    return compiled
