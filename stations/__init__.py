"""Station types: one module per type, discovered automatically.

Every public module of this package (a name not starting with ``_``) defines ``STATION_TYPE``, a
:class:`StationType`. Adding a station type is adding one module; the API, the OPC UA adapter and
the rules engine find station types only through the functions below.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._describe import describe_station_type
from ._schema import StationType

__all__ = [
    "OPCUA_BUILTIN_TYPE",
    "StationNodeIds",
    "StationType",
    "UnknownStationTypeError",
    "all_station_types",
    "describe_station_type",
    "get_station_type",
    "node_ids",
    "plant_name",
    "refresh_station_types",
]

STATION_ID_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")

#: The OPC UA built-in type of a ``Result.Values`` node per measurement kind (plc-interface.md).
OPCUA_BUILTIN_TYPE: Mapping[str, str] = MappingProxyType(
    {"number": "Double", "string": "String", "bool": "Boolean", "datetime": "DateTime"}
)


class UnknownStationTypeError(LookupError):
    """No station module declares this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown station type {code!r}")
        self.code = code


_lock = threading.Lock()
_cache: dict[str, StationType] | None = None


def _discover() -> dict[str, StationType]:
    found: dict[str, StationType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        station_type = getattr(module, "STATION_TYPE", None)
        if not isinstance(station_type, StationType):
            raise TypeError(f"stations/{info.name}.py must define STATION_TYPE = StationType(...)")
        if station_type.code != info.name:
            raise ValueError(f"stations/{info.name}.py declares code {station_type.code!r}; use the module name")
        found[station_type.code] = station_type
    return found


def refresh_station_types() -> None:
    """Forget the discovered types; the next lookup scans the package path again."""
    global _cache
    with _lock:
        _cache = None


def _registry() -> dict[str, StationType]:
    global _cache
    with _lock:
        if _cache is None:
            _cache = _discover()
        return _cache


def all_station_types() -> tuple[StationType, ...]:
    """Every registered station type, sorted by code."""
    registry = _registry()
    return tuple(registry[code] for code in sorted(registry))


def get_station_type(code: str) -> StationType:
    """The station type of that code; raises :class:`UnknownStationTypeError` otherwise."""
    try:
        return _registry()[code]
    except KeyError:
        raise UnknownStationTypeError(code) from None


def plant_name(code: str) -> str:
    """A station type as operators name it in a sentence ("vacuum dehydration", "run-in"): its module's
    ``plant_name``; a code no module declares reads as itself with spaces."""
    try:
        return get_station_type(code).plant_name
    except UnknownStationTypeError:
        return code.replace("_", " ")


@dataclass(frozen=True, slots=True)
class StationNodeIds:
    """The string node ids (``s=`` part) of one station's result set and live values."""

    values: Mapping[str, str]
    traces: Mapping[str, tuple[str, str]]  # channel -> (samples node, time-base node)
    live: Mapping[str, str]


def node_ids(*, station_id: str, station_type: StationType | str) -> StationNodeIds:
    """Derive the ``Result.Values``, ``Result.Traces`` and ``Live`` node ids from the schema names."""
    if not STATION_ID_PATTERN.fullmatch(station_id):
        raise ValueError(f"station id {station_id!r} does not match {STATION_ID_PATTERN.pattern}")
    st = get_station_type(station_type) if isinstance(station_type, str) else station_type
    if not st.has_plc:
        raise ValueError(f"station type {st.code!r} has no PLC and therefore no OPC UA nodes")
    return StationNodeIds(
        values=MappingProxyType({m.name: f"{station_id}.Result.Values.{m.name}" for m in st.measurements}),
        traces=MappingProxyType(
            {
                t.channel: (
                    f"{station_id}.Result.Traces.{t.channel}",
                    f"{station_id}.Result.Traces.{t.channel}_t",
                )
                for t in st.traces
            }
        ),
        live=MappingProxyType({ch: f"{station_id}.Live.{ch}" for ch in st.live_channels}),
    )
