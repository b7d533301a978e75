"""An asyncua server standing in for a station PLC or a line gateway hosting several stations."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from cryptography import x509

from app.opcua.nodes import NAMESPACE_URI, StationNodes
from app.opcua.security import TrustList
from app.opcua.simulator.address_space import add_station
from app.opcua.station_types import INTERFACE_VERSION, StationTypeSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostedStation:
    """A station object the server hosts; ``station_type_code``/``interface_version`` may lie (tests)."""

    station_id: str
    spec: StationTypeSpec
    station_type_code: str | None = None
    interface_version: int = INTERFACE_VERSION


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """Server-side security of a simulated PLC; by default it offers ``None`` only (simulator, tests)."""

    offer_none: bool = True
    certificate_path: Path | None = None
    private_key_path: Path | None = None
    trusted_clients_dir: Path | None = None
    users: dict[str, str] = field(default_factory=dict)


class _PasswordUsers:
    """User manager: the configured user names and passwords; anonymous only when none are configured."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = users

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if not self._users:
            return User(role=UserRole.User)
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


def _answer_republish_correctly(server: Server) -> None:
    """Republish of an unknown sequence number must fail with Bad_MessageNotAvailable (Part 4 §5.13.6).

    The stock asyncua server answers with an empty message, which makes session-reusing clients spin.
    """
    service = server.iserver.subscription_service
    original = service.republish

    def republish(params: ua.RepublishParameters) -> ua.NotificationMessage:
        if params.SubscriptionId not in service.subscriptions:
            raise ServiceError(ua.StatusCodes.BadSubscriptionIdInvalid)
        message = original(params)
        if message.SequenceNumber != params.RetransmitSequenceNumber:
            raise ServiceError(ua.StatusCodes.BadMessageNotAvailable)
        return message

    service.republish = republish  # type: ignore[method-assign]


def _revise_subscriptions_like_a_plc(server: Server, *, min_publishing_interval_ms: float) -> None:
    """Grant at least the PLC's minimum publishing interval (open62541's default is 100 ms, node-opcua's
    50 ms) and honour ModifySubscription's keep-alive and lifetime counts (Part 4 §5.13.3). The stock
    asyncua server grants whatever is asked and ignores a Modify."""
    service = server.iserver.subscription_service
    create = service.create_subscription

    async def create_subscription(
        params: ua.CreateSubscriptionParameters, *args: Any, **kwargs: Any
    ) -> ua.CreateSubscriptionResult:
        if params.RequestedPublishingInterval < min_publishing_interval_ms:
            params = dataclasses.replace(params, RequestedPublishingInterval=min_publishing_interval_ms)
        return await create(params, *args, **kwargs)

    def modify_subscription(params: ua.ModifySubscriptionParameters) -> ua.ModifySubscriptionResult:
        sub = service.subscriptions.get(params.SubscriptionId)
        if sub is None:
            raise ServiceError(ua.StatusCodes.BadSubscriptionIdInvalid)
        keepalive = max(int(params.RequestedMaxKeepAliveCount), 1)
        sub.data.RevisedMaxKeepAliveCount = keepalive
        sub.data.RevisedLifetimeCount = max(int(params.RequestedLifetimeCount), 3 * keepalive)
        # the publishing loop keeps the interval it started with
        return ua.ModifySubscriptionResult(
            RevisedPublishingInterval=sub.data.RevisedPublishingInterval,
            RevisedLifetimeCount=sub.data.RevisedLifetimeCount,
            RevisedMaxKeepAliveCount=sub.data.RevisedMaxKeepAliveCount,
        )

    service.create_subscription = create_subscription  # type: ignore[method-assign]
    service.modify_subscription = modify_subscription  # type: ignore[method-assign]


class StationServer:
    """One OPC UA endpoint hosting station objects; ``start``/``stop`` may be repeated (a PLC restart).

    ``min_publishing_interval_ms``: the PLC's own floor for a subscription's publishing interval."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        stations: Sequence[HostedStation],
        security: ServerSecurity | None = None,
        name: str = "ASHP station PLC (simulated)",
        min_publishing_interval_ms: float = 0.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.stations = tuple(stations)
        self.security = security or ServerSecurity()
        self.name = name
        self.min_publishing_interval_ms = min_publishing_interval_ms
        self.server: Server | None = None
        self.nodes: dict[str, StationNodes] = {}
        self.boot_ids: dict[str, str] = {}

    @property
    def running(self) -> bool:
        return self.server is not None

    async def start(self) -> None:
        """Create and start a fresh server process image: every station gets a new BootId."""
        security = self.security
        users = _PasswordUsers(security.users)
        server = Server(user_manager=users)  # type: ignore[arg-type]
        await server.init()
        server.set_endpoint(self.endpoint_url)
        server.set_server_name(self.name)
        await server.set_application_uri("urn:ashp-line:simulator")
        policies = []
        if security.offer_none:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        if security.certificate_path and security.private_key_path:
            await server.load_certificate(str(security.certificate_path))
            await server.load_private_key(str(security.private_key_path))
            policies.append(ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt)
            trust = TrustList(security.trusted_clients_dir)
            server.set_certificate_validator(_client_validator(trust))
        server.set_security_policy(policies)
        tokens: list[type] = [ua.UserNameIdentityToken] if security.users else [ua.AnonymousIdentityToken]
        server.set_identity_tokens(tokens)
        namespace_index = await server.register_namespace(NAMESPACE_URI)
        _answer_republish_correctly(server)
        _revise_subscriptions_like_a_plc(server, min_publishing_interval_ms=self.min_publishing_interval_ms)
        self.nodes = {}
        for station in self.stations:
            boot_id = uuid.uuid4().hex[:16]
            self.boot_ids[station.station_id] = boot_id
            self.nodes[station.station_id] = await add_station(
                server=server,
                namespace_index=namespace_index,
                station_id=station.station_id,
                spec=station.spec,
                boot_id=boot_id,
                station_type_code=station.station_type_code,
                interface_version=station.interface_version,
            )
        await server.start()
        self.server = server

    async def stop(self) -> None:
        """Stop the server (a PLC power-off or network loss: clients see the connection drop)."""
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    # --- PLC-side access to its own variables ---------------------------------------------

    def read(self, station_id: str, path: str) -> Any:
        """The current value of ``<station_id>.<path>``."""
        assert self.server is not None
        dv = self.server.read_attribute_value(self.nodes[station_id].node(path))
        return None if dv.Value is None else dv.Value.Value

    def read_data_value(self, station_id: str, path: str) -> ua.DataValue:
        assert self.server is not None
        return self.server.read_attribute_value(self.nodes[station_id].node(path))

    async def write(
        self,
        station_id: str,
        path: str,
        value: Any,
        variant_type: ua.VariantType,
        status: ua.StatusCode | None = None,
    ) -> None:
        """Write a variable as the PLC program does (exact type, source timestamp now)."""
        assert self.server is not None
        now: Any = datetime.now(UTC)
        dv = ua.DataValue(
            ua.Variant(value, variant_type),
            StatusCode=status or ua.StatusCode(),
            SourceTimestamp=now,
            ServerTimestamp=now,
        )
        await self.server.write_attribute_value(self.nodes[station_id].node(path), dv)


def _client_validator(trust: TrustList) -> Any:
    async def validate(cert: x509.Certificate, app_description: ua.ApplicationDescription) -> None:
        try:
            trust.check(cert)
        except Exception as exc:
            logger.warning("simulated PLC refuses client certificate: %s", exc)
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted) from exc

    return validate
