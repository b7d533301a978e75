"""Station objects in an asyncua server, laid out and typed exactly as plc-interface.md specifies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Node, Server, ua

from app.domain.results import MeasurementKind
from app.opcua.nodes import StationNodes
from app.opcua.station_types import INTERFACE_VERSION, StationTypeSpec

NULL_DATETIME = datetime(1601, 1, 1, tzinfo=UTC)
"""What a PLC writes for a DateTime that was not measured (OPC UA's null DateTime)."""

KIND_TYPES: dict[MeasurementKind, ua.VariantType] = {
    "number": ua.VariantType.Double,
    "string": ua.VariantType.String,
    "bool": ua.VariantType.Boolean,
    "datetime": ua.VariantType.DateTime,
}
KIND_EMPTY: dict[MeasurementKind, Any] = {
    "number": float("nan"),
    "string": "",
    "bool": False,
    "datetime": NULL_DATETIME,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One variable of the contract: its path below the station, built-in type, initial value, writer."""

    path: str
    variant_type: ua.VariantType
    initial: Any
    written_by_mes: bool = False


def contract_fields(
    *, spec: StationTypeSpec, station_type_code: str, interface_version: int, boot_id: str
) -> list[Field]:
    """Every variable of one station, in browse order."""
    u32, i32, s, b = (
        ua.VariantType.UInt32,
        ua.VariantType.Int32,
        ua.VariantType.String,
        ua.VariantType.Boolean,
    )
    fields = [
        Field("Identification.StationType", s, station_type_code),
        Field("Identification.InterfaceVersion", u32, interface_version),
        Field("Identification.BootId", s, boot_id),
        Field("State", i32, 2),
        Field("Request.Serial", s, ""),
        Field("Request.Counter", u32, 0),
        Field("Response.Counter", u32, 0, True),
        Field("Response.Release", b, False, True),
        Field("Response.Reason", s, "", True),
        Field("Response.Recipe", s, "", True),
        Field("Result.Id", s, ""),
        Field("Result.Serial", s, ""),
        Field("Result.Counter", u32, 0),
        Field("Result.Verdict", i32, 0, True),
        Field("Result.Ack", u32, 0, True),
    ]
    fields += [Field(f"Result.Values.{v.name}", KIND_TYPES[v.kind], KIND_EMPTY[v.kind]) for v in spec.values]
    for channel in spec.trace_channels:
        fields += [
            Field(f"Result.Traces.{channel}", ua.VariantType.Double, []),
            Field(f"Result.Traces.{channel}_t", ua.VariantType.Double, []),
        ]
    fields += [Field(f"Live.{channel}", ua.VariantType.Double, float("nan")) for channel in spec.live_channels]
    return fields


async def add_station(
    *,
    server: Server,
    namespace_index: int,
    station_id: str,
    spec: StationTypeSpec,
    boot_id: str,
    station_type_code: str | None = None,
    interface_version: int = INTERFACE_VERSION,
) -> StationNodes:
    """Create ``<station_id>`` under Objects with its Identification/Request/Response/Result/Live objects."""
    nodes = StationNodes(station_id=station_id, station_type=spec, namespace_index=namespace_index)
    root = await server.nodes.objects.add_object(
        _object_id(station_id, "", namespace_index), _qn(station_id, namespace_index)
    )
    folders: dict[str, Node] = {"": root}
    fields = contract_fields(
        spec=spec,
        station_type_code=station_type_code or spec.code,
        interface_version=interface_version,
        boot_id=boot_id,
    )
    for field in fields:
        parent_path, _, name = field.path.rpartition(".")
        parent = await _folder(folders, station_id, parent_path, namespace_index)
        variable = await parent.add_variable(
            nodes.node(field.path), _qn(name, namespace_index), ua.Variant(field.initial, field.variant_type)
        )
        if field.written_by_mes:
            await variable.set_writable(True)
    return nodes


def _qn(name: str, namespace_index: int) -> ua.QualifiedName:
    return ua.QualifiedName(name, namespace_index)


def _object_id(station_id: str, path: str, namespace_index: int) -> ua.NodeId:
    identifier = station_id if not path else f"{station_id}.{path}"
    return ua.NodeId(ua.String(identifier), ua.Int16(namespace_index))


async def _folder(folders: dict[str, Node], station_id: str, path: str, namespace_index: int) -> Node:
    """The object at ``path`` below the station root, creating it (and its parents) on first use."""
    if path in folders:
        return folders[path]
    parent_path, _, name = path.rpartition(".")
    parent = await _folder(folders, station_id, parent_path, namespace_index)
    folders[path] = await parent.add_object(_object_id(station_id, path, namespace_index), _qn(name, namespace_index))
    return folders[path]
