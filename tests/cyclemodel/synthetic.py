"""Plateau values of a simulated unit that behaves exactly like its cycle model (test helper)."""

from __future__ import annotations

import numpy as np

from app.cyclemodel.cycle import OperatingPoints, solve_cycle
from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import table_properties
from app.cyclemodel.provider import PLATEAU_MODES

PLATEAU_CONDITIONS = {
    "M10": {"AirTemp_C": -10.0, "WaterIn_C": 30.0, "WaterFlow_l_min": 17.0, "CompSpeed_rps": 70.0},
    "P07": {"AirTemp_C": 7.0, "WaterIn_C": 30.0, "WaterFlow_l_min": 17.0, "CompSpeed_rps": 60.0},
    "P45": {"AirTemp_C": 45.0, "WaterIn_C": 12.0, "WaterFlow_l_min": 17.0, "CompSpeed_rps": 60.0},
}


def model_unit_values(*, product_model_code: str, plateau: str, **overrides: float) -> dict[str, float | None]:
    """The run_in values a unit identical to its model would report at a plateau."""
    product = DEMO_PRODUCTS[product_model_code]
    params = load_shipped(product_model_code=product_model_code).parameters
    conditions = {**PLATEAU_CONDITIONS[plateau], **overrides}
    mode = PLATEAU_MODES[plateau]
    evi_on = mode == "heating" and product.evi_on_at(air_temp_c=conditions["AirTemp_C"])
    props = table_properties(product.refrigerant)
    sol = solve_cycle(
        props=props, params=params, mode=mode, evi_on=evi_on,
        points=OperatingPoints(
            air_temp_c=np.array([conditions["AirTemp_C"]]), water_in_c=np.array([conditions["WaterIn_C"]]),
            water_flow_l_min=np.array([conditions["WaterFlow_l_min"]]),
            comp_speed_rps=np.array([conditions["CompSpeed_rps"]]),
            superheat_k=np.array([params.superheat_setpoint_k]),
        ),
    )  # fmt: skip
    values = {
        "AirTemp_C": conditions["AirTemp_C"],
        "WaterIn_C": conditions["WaterIn_C"],
        "WaterOut_C": float(sol.water_out_c[0]),
        "WaterFlow_l_min": conditions["WaterFlow_l_min"],
        "CompSpeed_rps": conditions["CompSpeed_rps"],
        "SuctionP_bar": float(sol.suction_p_bar[0]),
        "DischargeP_bar": float(sol.discharge_p_bar[0]),
        "SuctionT_C": float(sol.suction_temp_c[0]),
        "DischargeT_C": float(sol.discharge_temp_c[0]),
        "LiquidT_C": float(sol.condensing_temp_c[0] - params.subcooling_k),
        "CompPower_W": float(sol.compressor_power_w[0]),
        "UnitPower_W": float(sol.unit_power_w[0]),
        "UnitAirSensor_C": conditions["AirTemp_C"],
    }
    return {f"{plateau}_{name}": value for name, value in values.items()}
