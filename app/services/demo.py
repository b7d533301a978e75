"""Demo data: the line of line.md and a few work orders, loaded idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.services import master_data, specs, work_orders


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
    """Load the demo master data and work orders; running it again changes nothing."""
    counts = master_data.load_document(session=session, document=master_data.read_document(master_data.DEMO_DOCUMENT))
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
            )
            created += 1
    counts["work_orders_created"] = created
    counts["spec_revisions_approved"] = specs.ensure_initial_revisions(
        session=session, by="demo", reason="initial specification: the station defaults of line.md (demo data)"
    )
    return counts
