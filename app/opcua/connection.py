"""One supervised client per endpoint: connect, check, subscribe, serve, watch, and reconnect with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from asyncua import Client, Node, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent, Subscription

from app.opcua.backend import StationBackend
from app.opcua.handshake import AlarmLatch, StationHandshakes
from app.opcua.link import UaLink, read_operation_limits
from app.opcua.live import LiveBus, LiveValue
from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.nodes import NAMESPACE_URI, StationNodes
from app.opcua.security import (
    EndpointRefused,
    SecurityChoice,
    configure_client_security,
    expiry_warnings,
    explain_connect_failure,
)
from app.opcua.station_types import StationTypeLookup, StationTypeSpec
from app.opcua.status import StatusBoard, now_utc

logger = logging.getLogger(__name__)


class LinkLost(Exception):
    """The session stopped delivering: transport down, subscription gone, or data gone stale."""

    def __init__(self, message: str, *, silent_s: float | None = None) -> None:
        super().__init__(message)
        self.silent_s = silent_s  # data gone stale: nothing (no data, no keep-alive) published for this long


class EndpointRunner:
    """Keeps one endpoint's stations served: a fresh session after every loss, never reusing a session."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        stations: tuple[StationEndpoint, ...],
        lookup: StationTypeLookup,
        backend: StationBackend,
        security: SecuritySettings,
        timing: AdapterTiming,
        board: StatusBoard,
        live_bus: LiveBus,
        alarms: AlarmLatch,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.stations = stations
        self._lookup = lookup
        self._backend = backend
        self._security = security
        self._timing = timing
        self._board = board
        self._live_bus = live_bus
        self._alarms = alarms
        self._clock = clock  # the date certificates are judged against
        self.sessions_started = 0
        self.sessions_lost = 0  # sessions lost after having been connected (a stop of the MES is no loss)
        self._connected = False  # the current session got as far as "connected"
        self.gaps_detected = 0
        self.stale_after_s = timing.stale_after_s  # from the keep-alive the PLC granted (_settle_keepalive)
        self.link: UaLink | None = None  # the current session's link (diagnostics)
        self._security_choice: SecurityChoice | None = None  # the current session's, for expiry checks
        self._next_certificate_check = 0.0
        for station in stations:  # the stations' loss accounting follows this endpoint's timing
            board.update(
                station_id=station.station_id,
                sessions_lost_window_s=timing.link_loss_window_s,
                unstable_after_losses=timing.link_unstable_after_losses,
            )

    def _specs(self) -> dict[str, StationTypeSpec | None]:
        specs: dict[str, StationTypeSpec | None] = {}
        for station in self.stations:
            try:
                specs[station.station_id] = self._lookup(station.station_type)
            except KeyError:
                specs[station.station_id] = None
        return specs

    def _set_link(self, link: Any, problem: str = "") -> None:
        for station in self.stations:
            self._board.set_link(station_id=station.station_id, link=link, problem=problem)

    async def run(self) -> None:
        """Run until cancelled."""
        delay_s = self._timing.reconnect_min_delay_s
        while True:
            self._set_link("connecting")
            self._connected = False
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                self._set_link("disconnected", "MES stopped")
                raise
            except Exception as exc:
                await self._on_session_end(exc)
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError  # a cancellation swallowed below us still means stop
            if time.monotonic() - started > self._timing.reconnect_backoff_reset_after_s:
                delay_s = self._timing.reconnect_min_delay_s  # the session had been up: start over
            await asyncio.sleep(delay_s * random.uniform(0.8, 1.2))
            delay_s = min(delay_s * 2, self._timing.reconnect_max_delay_s)

    async def _on_session_end(self, exc: BaseException) -> None:
        security_problem = explain_connect_failure(exc, mes_certificate=self._security.certificate_path)
        if self._connected:
            self.sessions_lost += 1
            reason = security_problem or _loss_reason(exc)
            for station in self.stations:
                self._board.record_loss(station_id=station.station_id, reason=reason)
        if security_problem is not None:
            self._set_link("refused", security_problem)
            for station in self.stations:
                await self._alarms.raise_once(station_id=station.station_id, key="link", message=security_problem)
            logger.warning("endpoint %s refused: %s", self.endpoint_url, security_problem)
        else:
            self._set_link("disconnected", f"{type(exc).__name__}: {exc}")
            logger.info("endpoint %s lost: %r", self.endpoint_url, exc)

    async def _session(self) -> None:
        client = Client(self.endpoint_url, timeout=self._timing.request_timeout_s, watchdog_intervall=1.0)
        client.session_timeout = 600_000
        try:
            choice = await configure_client_security(client=client, settings=self._security)
            async with asyncio.timeout(self._timing.request_timeout_s * 2):
                await client.connect(auto_reconnect=False)
            self.sessions_started += 1
            self._security_choice = choice
            await self._report_expiring_certificates(choice)
            await self._serve(client)
        finally:
            await _close_quietly(client)

    async def _report_expiring_certificates(self, choice: SecurityChoice) -> None:
        """An alarm per station while the MES's or the PLC's certificate is about to expire: at connect
        and every ``timing.certificate_check_interval_s`` while connected (links stay up for months)."""
        self._next_certificate_check = time.monotonic() + self._timing.certificate_check_interval_s
        if choice.mode == "None":
            return
        warnings = expiry_warnings(
            settings=self._security, server_certificate=choice.server_certificate, now=self._clock()
        )
        for station in self.stations:
            if warnings:
                await self._alarms.raise_once(
                    station_id=station.station_id, key="certificate", message="; ".join(warnings)
                )
            else:
                self._alarms.clear(station_id=station.station_id, key="certificate")
        if warnings:
            logger.warning("endpoint %s: %s", self.endpoint_url, "; ".join(warnings))

    async def _serve(self, client: Client) -> None:
        link = UaLink(client=client, timeout_s=self._timing.request_timeout_s)
        link.max_nodes_per_read, link.max_nodes_per_write = await read_operation_limits(link)
        self.link = link
        namespace_index = await _namespace_index(link)
        specs = self._specs()
        handlers = {
            s.station_id: StationHandshakes(
                endpoint=s,
                spec=specs[s.station_id],
                link=link,
                backend=self._backend,
                board=self._board,
                alarms=self._alarms,
                nodes=StationNodes(
                    station_id=s.station_id,
                    namespace_index=namespace_index,
                    station_type=specs[s.station_id] or StationTypeSpec(s.station_type, ()),
                ),
            )
            for s in self.stations
        }
        for handler in handlers.values():
            await handler.check_identification()
        # Live first: asyncua may drop the first publish of a subscription created while another one is
        # publishing; for the handshake items that loss is covered by the reconciliation, for Live it is not
        live = await self._subscribe_live(client, handlers)
        handshake_sub, routes = await self._subscribe_handshakes(client, handlers)
        self._set_link("connected")
        self._connected = True
        for station in self.stations:
            self._alarms.clear(station_id=station.station_id, key="link")
        tasks: list[Coroutine[Any, Any, None]] = [
            self._consume_handshakes(handshake_sub, routes),
            self._watch(client, link, handshake_sub, handlers),
        ]
        if live is not None:
            tasks.append(self._consume_live(*live))
        for handler in handlers.values():
            tasks += [handler.request_worker(), handler.result_worker()]
        await _run_until_first_failure(tasks)

    def _subscription_parameters(self) -> ua.CreateSubscriptionParameters:
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = self._timing.publishing_interval_ms
        params.RequestedMaxKeepAliveCount = self._timing.keepalive_count
        params.RequestedLifetimeCount = self._timing.lifetime_count
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        return params

    async def _subscribe_handshakes(
        self, client: Client, handlers: dict[str, StationHandshakes]
    ) -> tuple[Subscription, dict[ua.NodeId, Callable[[Any], Coroutine[Any, Any, None]]]]:
        routes: dict[ua.NodeId, Callable[[Any], Coroutine[Any, Any, None]]] = {}
        owner: dict[ua.NodeId, str] = {}
        for handler in handlers.values():
            n = handler.nodes
            routes[n.request_counter] = _kick(handler.kick_request)
            routes[n.result_counter] = _kick(handler.kick_result)
            routes[n.boot_id] = _boot_id_route(handler)
            routes[n.state] = _state_route(self._board, handler.station_id)
            owner |= dict.fromkeys((n.request_counter, n.result_counter, n.boot_id, n.state), handler.station_id)
        sub = await client.create_subscription(
            self._subscription_parameters(),
            handler=None,
            queue_maxsize=10_000,
            overflow=OverflowPolicy.DISCONNECT,
        )
        self.stale_after_s = await self._settle_keepalive(sub)
        refused = await _monitor(sub, [client.get_node(node_id) for node_id in routes])
        if refused:  # without them no request or result is seen: alarm the stations, and try again later
            for station_id in handlers:
                mine = [f"{node.to_string()} ({status.name})" for node, status in refused if owner[node] == station_id]
                if mine:
                    message = f"the PLC refused the MES's subscription to {', '.join(mine)}: no handshake is served"
                    await self._alarms.raise_once(station_id=station_id, key="subscription", message=message)
            raise LinkLost(f"{len(refused)} handshake items refused (first: {refused[0][1].name})")
        for handler in handlers.values():
            self._alarms.clear(station_id=handler.station_id, key="subscription")
        return sub, routes

    async def _settle_keepalive(self, sub: Subscription) -> float:
        """Keep a keep-alive about every ``publishing_interval_ms × keepalive_count`` whatever interval the
        PLC granted, and return how long a silent subscription may go before the link counts as lost.

        A PLC may raise the 50 ms interval to its own minimum (open62541: 100 ms). asyncua then asks for
        a keep-alive count from the *session* timeout (4,500 at 100 ms: one keep-alive in 7.5 min), and a
        quiet station would look dead after ``stale_after_s``. The granted values are read back from
        our own ModifySubscription, so the threshold follows what the PLC actually does."""
        timing = self._timing
        target_ms = timing.publishing_interval_ms * timing.keepalive_count
        interval_ms = float(sub.parameters.RequestedPublishingInterval) or timing.publishing_interval_ms
        keepalive = max(1, round(target_ms / interval_ms))
        params = ua.ModifySubscriptionParameters(
            SubscriptionId=sub.subscription_id,
            RequestedPublishingInterval=interval_ms,
            RequestedLifetimeCount=max(
                3 * keepalive, round(timing.lifetime_count * timing.publishing_interval_ms / interval_ms)
            ),
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=0,
            Priority=0,
        )
        try:
            granted = await sub.update(params)
            period_ms = granted.RevisedPublishingInterval * max(granted.RevisedMaxKeepAliveCount, 1)
        except ua.UaStatusCodeError as exc:  # a server without ModifySubscription: live with what it gave
            logger.warning("endpoint %s refused ModifySubscription (%s)", self.endpoint_url, exc)
            period_ms = float(sub.parameters.RequestedPublishingInterval) * max(
                int(sub.parameters.RequestedMaxKeepAliveCount), 1
            )
        if period_ms > target_ms:
            logger.warning(
                "endpoint %s grants a keep-alive only every %.1f s (publishing interval %.0f ms)",
                self.endpoint_url, period_ms / 1000.0, granted.RevisedPublishingInterval,
            )  # fmt: skip
        return timing.stale_after_s * max(1.0, period_ms / target_ms)

    async def _subscribe_live(
        self, client: Client, handlers: dict[str, StationHandshakes]
    ) -> tuple[Subscription, dict[ua.NodeId, tuple[str, str]]] | None:
        routes = {
            h.nodes.live(channel): (h.station_id, channel)
            for h in handlers.values()
            if h.spec is not None and h.identification_problem is None
            for channel in h.spec.live_channels
        }
        if not routes:
            return None
        nodes = [client.get_node(node_id) for node_id in routes]
        sub = await client.create_subscription(
            self._subscription_parameters(),
            handler=None,
            queue_maxsize=self._timing.live_queue_size,
            overflow=OverflowPolicy.DROP_OLDEST,
        )
        await self._settle_keepalive(sub)
        refused = {
            node: status for node, status in await _monitor(sub, nodes, queue_size=self._timing.live_item_queue_size)
        }
        # Live values are display only: a refused one is an alarm on its station, never a lost link
        for handler in handlers.values():
            mine = [f"Live.{channel} ({refused[node].name})" for node, (station, channel) in routes.items()
                    if station == handler.station_id and node in refused]  # fmt: skip
            if mine:
                message = f"the PLC refused the MES's subscription to {', '.join(mine)}: not shown live"
                await self._alarms.raise_once(station_id=handler.station_id, key="live", message=message)
            else:
                self._alarms.clear(station_id=handler.station_id, key="live")
        return sub, routes

    async def _consume_handshakes(
        self, sub: Subscription, routes: dict[ua.NodeId, Callable[[Any], Coroutine[Any, Any, None]]]
    ) -> None:
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                route = routes.get(event.node.nodeid)
                if route is not None:
                    await route(event.value)
            elif isinstance(event, StatusChangeEvent) and not event.notification.Status.is_good():
                raise LinkLost(f"subscription status {event.notification.Status.name}")
        raise LinkLost("handshake subscription closed")

    async def _consume_live(self, sub: Subscription, routes: dict[ua.NodeId, tuple[str, str]]) -> None:
        publish = self._live_bus.publish
        async for event in sub:
            if not isinstance(event, DataChangeEvent):
                continue
            station_id, channel = routes[event.node.nodeid]
            value = event.value
            dv = event.data.monitored_item.Value
            number = float(value) if value.__class__ is float or value.__class__ is int else None
            publish(LiveValue(station_id, channel, number, dv.SourceTimestamp if dv is not None else None))
        raise LinkLost("live subscription closed")

    async def _watch(
        self, client: Client, link: UaLink, sub: Subscription, handlers: dict[str, StationHandshakes]
    ) -> None:
        """Reconcile every station now and periodically; end the session when the data goes stale.

        Fresh means a publish response (data or keep-alive) within ``stale_after_s``, counted from the
        session's start until the first one arrives: a PLC that accepts the subscription and never
        publishes is stale too (asyncua's own watchdog waits for a first publish). A subscription asyncua
        recreates resets its ``last_publish_at`` without anything having been published, so that reset
        does not count."""
        subscription_id = sub.subscription_id
        counter_nodes = [node for h in handlers.values() for node in h.nodes.counters]
        fresh_at, seen_publish_at = time.monotonic(), sub.last_publish_at
        while True:
            read = await link.read(counter_nodes)
            for i, handler in enumerate(handlers.values()):
                await handler.reconcile(read[5 * i : 5 * i + 5])
            if self._security_choice is not None and time.monotonic() >= self._next_certificate_check:
                await self._report_expiring_certificates(self._security_choice)
            next_reconcile = time.monotonic() + self._timing.reconcile_interval_s
            while time.monotonic() < next_reconcile:
                await asyncio.sleep(min(0.25, self._timing.reconcile_interval_s))
                if client.uaclient.state is not UaClientState.CONNECTED:
                    raise LinkLost(f"client state {client.uaclient.state.value}")
                recreated = sub.subscription_id != subscription_id
                if not recreated and sub.last_publish_at != seen_publish_at and sub.last_publish_at is not None:
                    fresh_at = sub.last_publish_at
                seen_publish_at = sub.last_publish_at
                if time.monotonic() - fresh_at > self.stale_after_s:
                    silent_s = time.monotonic() - fresh_at
                    raise LinkLost(f"no publish response for {silent_s:.1f} s", silent_s=silent_s)
                if recreated:
                    # asyncua recreated the subscription behind our back: notifications may be lost
                    self.gaps_detected += 1
                    subscription_id = sub.subscription_id
                    break


def _loss_reason(exc: BaseException) -> str:
    """Why a connected session was lost, in words a maintenance engineer reads on the station's status."""
    if isinstance(exc, LinkLost):
        return str(exc) if exc.silent_s is None else f"no data from the PLC for {exc.silent_s:.0f} s"
    if isinstance(exc, TimeoutError):
        return "the PLC did not answer in time"
    if isinstance(exc, ConnectionError):
        return "the connection to the PLC was closed"
    return f"{type(exc).__name__}: {exc}"


def _kick(kick: Callable[[], None]) -> Callable[[Any], Coroutine[Any, Any, None]]:
    async def route(_value: Any) -> None:
        kick()

    return route


def _boot_id_route(handler: StationHandshakes) -> Callable[[Any], Coroutine[Any, Any, None]]:
    async def route(value: Any) -> None:
        if isinstance(value, str):
            await handler.note_boot_id(value)

    return route


def _state_route(board: StatusBoard, station_id: str) -> Callable[[Any], Coroutine[Any, Any, None]]:
    async def route(value: Any) -> None:
        board.update(station_id=station_id, state=value if isinstance(value, int) else None)

    return route


async def _monitor(
    sub: Subscription, nodes: list[Node], *, queue_size: int = 1
) -> list[tuple[ua.NodeId, ua.StatusCode]]:
    """Monitor every node; the ones the server refused, with its reason."""
    results = await sub.subscribe_data_change(nodes, queuesize=queue_size, sampling_interval=ua.Double(0.0))
    return [(node.nodeid, r) for node, r in zip(nodes, results, strict=True) if isinstance(r, ua.StatusCode)]


async def _namespace_index(link: UaLink) -> int:
    (array_dv,) = await link.read([ua.NodeId(ua.Int32(ua.ObjectIds.Server_NamespaceArray))])
    namespaces = array_dv.Value.Value if array_dv.Value is not None else None
    if not isinstance(namespaces, list) or NAMESPACE_URI not in namespaces:
        raise EndpointRefused(f"the server does not publish the namespace {NAMESPACE_URI}")
    return namespaces.index(NAMESPACE_URI)


async def _run_until_first_failure(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None:
                raise exc
        raise LinkLost("a session task ended")
    finally:
        await cancel_and_reap(tasks)


async def cancel_and_reap(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel and reap tasks; cancel again those that swallowed it (asyncua and 3.11's wait_for can)."""
    pending = set(tasks)
    for _attempt in range(20):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.25)
    if pending:
        logger.error("%d session tasks ignore cancellation: %s", len(pending), pending)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception never retrieved" noise


async def _close_quietly(client: Client) -> None:
    with contextlib.suppress(Exception):
        if client.uaclient.state is UaClientState.CONNECTED:
            async with asyncio.timeout(2.0):
                await client.disconnect()
            return
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await client.close_session()
    with contextlib.suppress(Exception):
        client.disconnect_socket()
