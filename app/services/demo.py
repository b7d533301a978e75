"""Demo data: the line of line.md and a few work orders, loaded idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.actors import SYSTEM, Role
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.security import passwords
from app.services import master_data, specs, users, work_orders


@dataclass(frozen=True, slots=True)
class DemoOrder:
    number: str
    product_model: str
    first_serial: str
    quantity: int


DEMO_ORDERS = (
    DemoOrder("WO-DEMO-R290", "HPM-06-R290-EVI", "HP26-0000001", 500),
    DemoOrder("WO-DEMO-R32", "HPM-12-R32-EVI", "HP26-0001001", 100),
    DemoOrder("WO-DEMO-SPLIT", "HPS-10-R32", "HP26-0002001", 100),
)


def load_demo(*, session: Session, serial_format: SerialFormat) -> dict[str, int]:
    """Load the demo master data and work orders; running it again changes nothing. A record already in
    the database (a route, product model, market rule or station) is left as it is: ``make run`` loads
    the demo at every start and must not undo what was changed since through the API."""
    document = master_data.read_document(master_data.DEMO_DOCUMENT)
    missing = _not_yet_loaded(session, document)
    master_data.load_document(session=session, document=missing, actor=SYSTEM)
    counts = {
        "master_data_records_added": _records(missing),
        "master_data_records_kept": _records(document) - _records(missing),
    }
    from app.services import cycle_parameters  # the cycle model's imports (CoolProp) only when loading the demo

    counts["cycle_parameter_sets_added"] = cycle_parameters.seed_demo(session=session, actor=SYSTEM)
    created = 0
    for order in DEMO_ORDERS:
        if session.scalars(select(m.WorkOrder.id).where(m.WorkOrder.number == order.number)).first() is None:
            work_orders.create_work_order(
                session=session,
                serial_format=serial_format,
                number=order.number,
                product_model_code=order.product_model,
                first_serial=order.first_serial,
                quantity=order.quantity,
                actor=SYSTEM,
            )
            created += 1
    counts["work_orders_created"] = created
    counts["spec_revisions_approved"] = specs.ensure_initial_revisions(
        session=session, actor=SYSTEM, reason="initial specification: the station defaults of line.md (demo data)"
    )
    return counts


def _not_yet_loaded(session: Session, document: master_data.MasterDataDocument) -> master_data.MasterDataDocument:
    """The part of ``document`` whose records the database does not hold yet (matched by their keys)."""
    routes = set(session.scalars(select(m.Route.code)))
    models = set(session.scalars(select(m.ProductModel.code)))
    markets = set(session.execute(select(m.MarketRule.market, m.MarketRule.refrigerant, m.MarketRule.construction)))
    stations = set(session.scalars(select(m.Station.station_id)))
    return document.model_copy(
        update={
            "routes": [r for r in document.routes if r.code not in routes],
            "product_models": [p for p in document.product_models if p.code not in models],
            "market_rules": [
                r for r in document.market_rules if (r.market, r.refrigerant, r.construction) not in markets
            ],
            "stations": [s for s in document.stations if s.station_id not in stations],
        }
    )


def _records(document: master_data.MasterDataDocument) -> int:
    return len(document.routes) + len(document.product_models) + len(document.market_rules) + len(document.stations)


def release_next_demo_order(*, session: Session, serial_format: SerialFormat, work_order: str) -> m.WorkOrder:
    """A new demo work order like ``work_order`` (same model and size), numbered ``<work_order>-<k>``, its
    serials after every serial released so far: ``make run`` carries on once a demo order is used up."""
    order = session.scalars(select(m.WorkOrder).where(m.WorkOrder.number == work_order)).one()
    model = session.get_one(m.ProductModel, order.product_model_id)
    taken = set(session.scalars(select(m.WorkOrder.number).where(m.WorkOrder.number.like(f"{work_order}-%"))))
    number = next(f"{work_order}-{k}" for k in range(2, len(taken) + 3) if f"{work_order}-{k}" not in taken)
    highest = max(session.scalars(select(m.Unit.serial)), key=lambda s: _seq(serial_format, s))
    match = serial_format.regex.fullmatch(highest)
    assert match is not None
    start, end = match.span("seq")
    first = f"{highest[:start]}{_seq(serial_format, highest) + 1:0{end - start}d}{highest[end:]}"
    return work_orders.create_work_order(
        session=session,
        serial_format=serial_format,
        number=number,
        product_model_code=model.code,
        first_serial=first,
        quantity=order.quantity,
        actor=SYSTEM,
    )


def _seq(serial_format: SerialFormat, serial: str) -> int:
    match = serial_format.regex.fullmatch(serial)
    return int(match.group("seq")) if match else -1


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    password: str | None = None
    badge_id: str | None = None
    pin: str | None = None
    stations: tuple[str, ...] = ()  # a service account's stations

    @property
    def how_to_sign_in(self) -> str:
        if self.badge_id:
            return f"badge {self.badge_id}, PIN {self.pin}"
        return f"user {self.username}, password {self.password}"


# Published here, so production refuses to start while any of them still has this secret.
DEMO_USERS = (
    DemoUser("operator1", "Olga Operator", Role.OPERATOR, badge_id="B1001", pin="1001"),
    DemoUser("supervisor1", "Sami Supervisor", Role.SUPERVISOR, password="demo-supervisor"),
    DemoUser("quality1", "Quinn Quality", Role.QUALITY_ENGINEER, password="demo-quality"),
    DemoUser("admin1", "Ada Admin", Role.ADMIN, password="demo-admin-pw"),
    DemoUser(
        "svc-leak-test", "Leak tester integration", Role.STATION, password="demo-station-svc", stations=("LKT-01",)
    ),
)


def load_demo_users(*, session: Session) -> list[DemoUser]:
    """Create the demo users that do not exist yet; returns those created. A demo service account made
    before accounts were bound to stations (migration 0016) is bound to its demo stations."""
    created = []
    for demo in DEMO_USERS:
        user_id = session.scalar(select(m.AppUser.id).where(m.AppUser.username == demo.username))
        if user_id is not None and demo.stations and not users.stations_of(session=session, user_id=user_id):
            users.change_user(
                session=session,
                actor=SYSTEM,
                username=demo.username,
                change=users.UserChange(stations=demo.stations),
                reason="demo data: the demo service account serves the demo stations",
            )
        if user_id is None:
            users.create_user(
                session=session,
                actor=SYSTEM,
                username=demo.username,
                display_name=demo.display_name,
                role=demo.role,
                password=demo.password,
                badge_id=demo.badge_id,
                pin=demo.pin,
                stations=demo.stations,
            )
            created.append(demo)
    return created


def users_with_demo_secrets(*, session: Session) -> list[str]:
    """Active users whose password or PIN is still the published demo one."""
    found = []
    for demo in DEMO_USERS:
        user = session.scalars(select(m.AppUser).where(m.AppUser.username == demo.username)).one_or_none()
        if user is None or not user.active:
            continue
        if (demo.password and passwords.verify_secret(user.password_hash, demo.password)) or (
            demo.pin and passwords.verify_secret(user.pin_hash, demo.pin)
        ):
            found.append(demo.username)
    return found
