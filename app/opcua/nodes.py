"""Node ids of one station per the contract: ``ns=<urn:ashp-line:station>;s=<StationId>.<path>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from asyncua import ua

from app.opcua.station_types import StationTypeSpec

NAMESPACE_URI = "urn:ashp-line:station"
STATION_ID_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")


def station_node_id(*, namespace_index: int, station_id: str, path: str) -> ua.NodeId:
    """The node id of ``<station_id>.<path>`` in the station namespace."""
    return ua.NodeId(ua.String(f"{station_id}.{path}"), ua.Int16(namespace_index))


@dataclass(frozen=True, slots=True)
class StationNodes:
    """Every node id the MES reads or writes for one station."""

    station_id: str
    station_type: StationTypeSpec
    namespace_index: int

    def node(self, path: str) -> ua.NodeId:
        """The node id of ``<station_id>.<path>``."""
        return station_node_id(namespace_index=self.namespace_index, station_id=self.station_id, path=path)

    @property
    def station_type_code(self) -> ua.NodeId:
        return self.node("Identification.StationType")

    @property
    def interface_version(self) -> ua.NodeId:
        return self.node("Identification.InterfaceVersion")

    @property
    def boot_id(self) -> ua.NodeId:
        return self.node("Identification.BootId")

    @property
    def state(self) -> ua.NodeId:
        return self.node("State")

    @property
    def request_serial(self) -> ua.NodeId:
        return self.node("Request.Serial")

    @property
    def request_counter(self) -> ua.NodeId:
        return self.node("Request.Counter")

    @property
    def response_counter(self) -> ua.NodeId:
        return self.node("Response.Counter")

    @property
    def response_release(self) -> ua.NodeId:
        return self.node("Response.Release")

    @property
    def response_reason(self) -> ua.NodeId:
        return self.node("Response.Reason")

    @property
    def response_recipe(self) -> ua.NodeId:
        return self.node("Response.Recipe")

    @property
    def result_id(self) -> ua.NodeId:
        return self.node("Result.Id")

    @property
    def result_serial(self) -> ua.NodeId:
        return self.node("Result.Serial")

    @property
    def result_counter(self) -> ua.NodeId:
        return self.node("Result.Counter")

    @property
    def result_verdict(self) -> ua.NodeId:
        return self.node("Result.Verdict")

    @property
    def result_ack(self) -> ua.NodeId:
        return self.node("Result.Ack")

    def value(self, name: str) -> ua.NodeId:
        """``Result.Values.<name>``."""
        return self.node(f"Result.Values.{name}")

    def trace(self, channel: str) -> ua.NodeId:
        """``Result.Traces.<channel>`` (the samples)."""
        return self.node(f"Result.Traces.{channel}")

    def trace_time(self, channel: str) -> ua.NodeId:
        """``Result.Traces.<channel>_t`` (seconds since cycle start)."""
        return self.node(f"Result.Traces.{channel}_t")

    def live(self, channel: str) -> ua.NodeId:
        """``Live.<channel>``."""
        return self.node(f"Live.{channel}")

    @property
    def counters(self) -> tuple[ua.NodeId, ua.NodeId, ua.NodeId, ua.NodeId, ua.NodeId]:
        """Request.Counter, Response.Counter, Result.Counter, Result.Ack and BootId, in that order."""
        return (
            self.request_counter,
            self.response_counter,
            self.result_counter,
            self.result_ack,
            self.boot_id,
        )
