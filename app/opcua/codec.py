"""Values across the boundary: exact built-in types out, plain Python values and qualities in."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from app.domain.results import MeasurementKind
from app.opcua.backend import PlcValue, Quality

COUNTER_MAX = 4_294_967_295
NULL_DATETIME_LIMIT = datetime(1601, 1, 2, tzinfo=UTC)
"""OPC UA's null DateTime is MinValue (1601-01-01); anything before this limit is 'not measured'."""


def next_counter(counter: int) -> int:
    """The counter after ``counter``: 1, 2, …, 4294967295, then 1 again (0 means 'nothing yet')."""
    return 1 if counter >= COUNTER_MAX else counter + 1


def is_pending(*, counter: int, answered: int) -> bool:
    """A handshake is pending when the PLC's counter is set and the MES's answer is not that counter."""
    return counter != 0 and counter != answered


def exact(value: Any, variant_type: ua.VariantType) -> ua.DataValue:
    """A DataValue for a Write: the node's exact built-in type, value only (no status, no timestamps)."""
    return ua.DataValue(ua.Variant(value, variant_type), StatusCode=None)


def uint32(value: int) -> ua.DataValue:
    return exact(value, ua.VariantType.UInt32)


def int32(value: int) -> ua.DataValue:
    return exact(value, ua.VariantType.Int32)


def boolean(value: bool) -> ua.DataValue:
    return exact(value, ua.VariantType.Boolean)


def string(value: str) -> ua.DataValue:
    return exact(value, ua.VariantType.String)


REASON_MAX_BYTES = 254
RECIPE_MAX_BYTES = 64
"""Bounds of ``Response.Reason`` and ``Response.Recipe``. An OPC UA String travels as UTF-8 and a
PLC's string variable is sized in bytes, so these count bytes: 254 characters of '°' or 'é' would
overrun a strict PLC's variable and its server would refuse the whole Write."""


def utf8_length(text: str) -> int:
    """Bytes on the wire (asyncua writes a string as UTF-8 with ``surrogateescape``)."""
    return len(text.encode("utf-8", errors="surrogateescape"))


def fit_utf8(text: str, max_bytes: int) -> str:
    """``text`` if it fits in ``max_bytes`` of UTF-8, else its longest prefix that fits with '…'
    appended (never a character cut in half)."""
    if utf8_length(text) <= max_bytes:
        return text
    ellipsis = "…"
    room, used, kept = max_bytes - utf8_length(ellipsis), 0, []
    for char in text:
        used += utf8_length(char)
        if used > room:
            break
        kept.append(char)
    return "".join(kept) + ellipsis


def plain_text(text: str) -> str:
    """A PLC's string as valid text: bytes that were not UTF-8 (asyncua hands them over as lone
    surrogates, which neither the database driver nor JSON can carry) are spelled ``\\xNN``, so what
    the PLC sent stays visible byte for byte instead of failing the store of the whole result."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def quality_of(data_value: ua.DataValue) -> Quality:
    """Good, uncertain or bad from a DataValue's status (a missing status is Good)."""
    status = data_value.StatusCode
    if status is None or status.is_good():
        return "good"
    if status.is_uncertain():
        return "uncertain"
    return "bad"


def raw_value(data_value: ua.DataValue) -> Any:
    """The Python value inside a DataValue, or None."""
    variant = data_value.Value
    return None if variant is None else variant.Value


def read_uint(data_value: ua.DataValue) -> int:
    """A counter as read; an unreadable counter counts as 0 ('nothing yet')."""
    value = raw_value(data_value)
    if quality_of(data_value) == "bad" or not isinstance(value, int) or isinstance(value, bool):
        return 0
    return value


def read_str(data_value: ua.DataValue) -> str:
    value = raw_value(data_value)
    return plain_text(value) if isinstance(value, str) else ""


def to_plc_value(data_value: ua.DataValue, kind: MeasurementKind) -> PlcValue:
    """Map one ``Result.Values.*`` node to a PlcValue: NaN and the null DateTime become None."""
    quality = quality_of(data_value)
    value = raw_value(data_value)
    if quality == "bad":
        return PlcValue(value=None, quality="bad")
    converted: float | str | bool | datetime | None
    if kind == "number":
        converted = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        if converted is not None and math.isnan(converted):
            converted = None
    elif kind == "string":
        converted = plain_text(value) if isinstance(value, str) else None
    elif kind == "bool":
        converted = value if isinstance(value, bool) else None
    else:
        converted = _utc_or_none(value)
    return PlcValue(value=converted, quality=quality)


def _utc_or_none(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None if aware < NULL_DATETIME_LIMIT else aware.astimezone(UTC)


def to_samples(data_value: ua.DataValue) -> tuple[float, ...] | None:
    """A Double[] trace as a tuple of floats, or None when the node is bad or not an array."""
    if quality_of(data_value) == "bad":
        return None
    value = raw_value(data_value)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        return None
    if data_value.Value is not None and data_value.Value.VariantType is ua.VariantType.Double:
        return tuple(value)  # decoded Double[]: already floats (a run-in result holds 15,000 samples)
    return tuple(map(float, value))
