"""Work orders release ranges of serial numbers as units."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.errors import Conflict, NotFound
from app.domain.routing import UnitStatus
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import audit
from app.services.clock import utcnow

MAX_QUANTITY = 100_000


def create_work_order(
    *,
    session: Session,
    serial_format: SerialFormat,
    number: str,
    product_model_code: str,
    first_serial: str,
    quantity: int,
    actor: Actor,
) -> m.WorkOrder:
    """Create a work order and release ``quantity`` consecutive serials from ``first_serial``."""
    serials = serial_format.expand(first_serial, quantity)
    model = repo.product_model_by_code(session, product_model_code)
    if session.scalars(select(m.WorkOrder.id).where(m.WorkOrder.number == number)).first() is not None:
        raise Conflict(f"work order {number} already exists", work_order=number)
    taken = session.scalars(
        select(m.Unit.serial).where(m.Unit.serial.in_(serials)).order_by(m.Unit.serial).limit(5)
    ).all()
    if taken:
        raise Conflict(
            f"serials already released by another work order: {', '.join(taken)}"
            f"{' …' if len(taken) == 5 else ''}; choose another range",
            serials=list(taken),
        )
    route = repo.route_def(session, model.route_id)
    now = utcnow()
    order = m.WorkOrder(
        number=number,
        product_model_id=model.id,
        quantity=quantity,
        first_serial=serials[0],
        last_serial=serials[-1],
        created_at=now,
    )
    session.add(order)
    session.flush()
    first_step = route.steps[0].station_type
    session.execute(
        insert(m.Unit),
        [
            {
                "serial": serial,
                "work_order_id": order.id,
                "product_model_id": model.id,
                "status": UnitStatus.IN_PROCESS.value,
                "next_step": first_step,
                "reentry_step": None,
                "rework_loops": 0,
                "created_at": now,
                "updated_at": now,
            }
            for serial in serials
        ],
    )
    audit.record(
        session=session,
        actor=actor,
        action="work_order.create",
        entity_type="work_order",
        entity_id=order.number,
        before=None,
        after=audit.snapshot(order) | {"product_model": model.code},
        reason=None,
    )
    return order


def get_work_order(*, session: Session, number: str) -> m.WorkOrder:
    order = session.scalars(select(m.WorkOrder).where(m.WorkOrder.number == number)).one_or_none()
    if order is None:
        raise NotFound(f"work order {number} does not exist", work_order=number)
    return order
