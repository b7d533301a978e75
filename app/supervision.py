"""Starting the OPC UA supervisor from the station master data (called by the app lifespan)."""

from __future__ import annotations

import dataclasses
import logging

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy import select

import stations
from app.config import Settings
from app.opcua import AdapterTiming, OpcuaSupervisor, SecuritySettings, StationEndpoint
from app.persistence import models as m
from app.services.plc_gateway import DatabaseStationBackend

log = logging.getLogger("app.supervision")


def security_settings(settings: Settings) -> SecuritySettings:
    o = settings.opcua
    return SecuritySettings(
        allow_none=o.allow_security_none,
        certificate_path=o.certificate_path,
        private_key_path=o.private_key_path,
        trust_dir=o.trust_dir,
        username=o.username,
        password=o.password.get_secret_value() if o.password else None,
        application_uri=o.application_uri,
        rejected_dir=o.rejected_dir,
        certificate_warn_days=o.certificate_warn_days,
    )


def adapter_timing(settings: Settings) -> AdapterTiming:
    """The station links' timing: each field of AdapterTiming that is a plant setting
    (MES_OPCUA__RECONCILE_INTERVAL_S …) from the settings, the contract's own (publishing interval,
    queue sizes) as the adapter has them."""
    o = settings.opcua
    named = {f.name for f in dataclasses.fields(AdapterTiming)} & set(type(o).model_fields)
    return AdapterTiming(**{name: getattr(o, name) for name in sorted(named)})


def station_endpoints(app: FastAPI) -> list[StationEndpoint]:
    """Every station of the master data that has an OPC UA endpoint and a PLC."""
    with app.state.session_factory() as session:
        rows = session.scalars(select(m.Station).where(m.Station.opcua_endpoint.is_not(None))).all()
    endpoints = []
    for row in rows:
        try:
            has_plc = stations.get_station_type(row.station_type).has_plc
        except LookupError:
            log.error("station %s has unknown station type %s; not connected", row.station_id, row.station_type)
            continue
        if has_plc and row.opcua_endpoint:
            endpoints.append(StationEndpoint(row.station_id, row.station_type, row.opcua_endpoint))
    return endpoints


async def start_supervisor(app: FastAPI, settings: Settings) -> OpcuaSupervisor:
    endpoints = await to_thread.run_sync(station_endpoints, app)
    backend = DatabaseStationBackend(
        session_factory=app.state.session_factory, serial_format=app.state.serial_format, judge=app.state.judge
    )
    supervisor = OpcuaSupervisor(
        stations=endpoints,
        backend=backend,
        security=security_settings(settings),
        live_bus=app.state.live_bus,
        timing=adapter_timing(settings),
    )
    await supervisor.start()
    app.state.supervisor = supervisor
    log.info("OPC UA supervisor started for %d stations", len(endpoints))
    return supervisor
