"""Fitting a product's cycle parameters to its rating data, each parameter inside physical bounds.

Six rating numbers (A7/W35 and A-7/W35 heating capacity and COP, A35/W7 cooling capacity and EER)
fit seven free parameters, so the fit also carries weak priors (engineering typical values, scaled
to the product's size) that make the answer unique; the rating residuals dominate by weight.
The EVI design (intermediate pressure at the geometric mean, the economiser approach and injection
superheat from the product data) is *not* fitted: the EVI gain must follow from physics, and is a
test of the model rather than an input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from app.cyclemodel import CODE_VERSION
from app.cyclemodel.cycle import CycleParameters, OperatingPoints, solve_cycle
from app.cyclemodel.paramsets import ParameterSet, RatingFit, parameter_set_id
from app.cyclemodel.products import ProductPhysics, RatingPoint
from app.cyclemodel.properties import RefrigerantProperties, table_properties
from app.cyclemodel.water import volumetric_heat_capacity_j_m3_k

# Physical bounds of every parameter (what a residential scroll heat pump can have).
BOUNDS: dict[str, tuple[float, float]] = {
    "displacement_cm3": (5.0, 80.0),
    "volumetric_eff_at_pr1": (0.85, 1.0),  # scroll: small clearance, some suction heating
    "volumetric_eff_slope": (0.0, 0.05),  # per unit of pressure ratio above 1
    "isentropic_eff_peak": (0.50, 0.80),  # inverter scrolls peak near 0.65-0.75
    "isentropic_eff_best_pr": (2.0, 4.5),  # near the built-in volume ratio
    "isentropic_eff_curvature": (0.01, 0.45),
    "motor_inverter_eff": (0.85, 0.96),  # BLDC motor x inverter
    "ua_water_hx_w_k": (200.0, 6000.0),  # brazed plate, 3-15 kW units
    "ua_air_coil_evaporating_w_k": (200.0, 6000.0),  # incl. frosting and defrost losses in ratings
    "ua_air_coil_condensing_w_k": (200.0, 6000.0),
    "subcooling_k": (1.0, 8.0),
    "superheat_setpoint_k": (3.0, 8.0),
    "aux_power_heating_w": (20.0, 500.0),  # fan, share of pump, controls, standby of the board
    "aux_power_cooling_w": (20.0, 500.0),
    "economiser_approach_k": (2.0, 8.0),  # product data, checked, never fitted
    "injection_superheat_k": (2.0, 8.0),
    "rating_defrost_loss_fraction": (0.005, 0.15),  # integrated defrost losses at A-7 (EN 14511 practice)
}

FITTED = (
    "displacement_cm3",
    "isentropic_eff_peak",
    "isentropic_eff_curvature",
    "ua_air_coil_evaporating_w_k",
    "ua_air_coil_condensing_w_k",
    "aux_power_heating_w",
    "aux_power_cooling_w",
    "rating_defrost_loss_fraction",
    "motor_inverter_eff",
    "ua_water_hx_w_k",
    "isentropic_eff_best_pr",
)
PROGRESS_EVERY = 200
Progress = Callable[[int, float], None]
RATING_WEIGHT = 1.0 / 0.002  # relative error of 0.2 % counts as one
PRIOR_WEIGHT = 0.2  # a factor of e from the prior counts as 0.2 (the ratings dominate)


def prior_parameters(*, product: ProductPhysics) -> CycleParameters:
    """Engineering typical values scaled to the product's rated A7/W35 capacity; the fit starts here."""
    kw = product.rating_points[0].capacity_w / 1000.0
    return CycleParameters(
        displacement_cm3=product.compressor_displacement_hint_cm3,
        volumetric_eff_at_pr1=0.97,
        volumetric_eff_slope=0.015,
        isentropic_eff_peak=0.70,
        isentropic_eff_best_pr=3.0,
        isentropic_eff_curvature=0.10,
        motor_inverter_eff=0.92,
        ua_water_hx_w_k=250.0 * kw,
        ua_air_coil_evaporating_w_k=180.0 * kw,
        ua_air_coil_condensing_w_k=180.0 * kw,
        subcooling_k=3.0,
        superheat_setpoint_k=5.0,
        aux_power_heating_w=15.0 * kw + 40.0,
        aux_power_cooling_w=15.0 * kw + 40.0,
        economiser_approach_k=product.economiser_approach_k,
        injection_superheat_k=product.injection_superheat_k,
        rating_defrost_loss_fraction=0.05,
    )


def rating_water_flow_l_min(*, point: RatingPoint) -> float:
    """Water flow that gives the rating ΔT at the rated capacity."""
    mean_c = point.water_out_c + (point.water_in_c - point.water_out_c) / 2.0
    rho_cp = float(volumetric_heat_capacity_j_m3_k(temp_c=mean_c))
    return point.capacity_w / (rho_cp * point.water_delta_k) * 1000.0 * 60.0


def predict_ratings(
    *, product: ProductPhysics, parameters: CycleParameters, props: RefrigerantProperties
) -> list[tuple[float, float]]:
    """(capacity_w, cop) the model gives at each rating point."""
    out = []
    for point in product.rating_points:
        pts = OperatingPoints(
            air_temp_c=np.array([point.air_temp_c]),
            water_in_c=np.array([point.water_in_c]),
            water_flow_l_min=np.array([rating_water_flow_l_min(point=point)]),
            comp_speed_rps=np.array([point.comp_speed_rps]),
            superheat_k=np.array([parameters.superheat_setpoint_k]),
        )
        sol = solve_cycle(props=props, params=parameters, mode=point.mode, evi_on=point.evi_on, points=pts)
        if not sol.valid[0]:
            out.append((np.nan, np.nan))
            continue
        # The rating's integrated defrost losses (see CycleParameters.rating_defrost_loss_fraction).
        kept = (
            1.0 - parameters.rating_defrost_loss_fraction if point.mode == "heating" and point.air_temp_c < 2.0 else 1.0
        )
        out.append((float(sol.capacity_w[0]) * kept, float(sol.cop[0]) * kept))
    return out


@dataclass(frozen=True, slots=True)
class FitOutcome:
    """A fitted parameter set and the worst relative rating error it leaves."""

    parameter_set: ParameterSet
    max_rating_error: float
    at_bounds: tuple[str, ...]


def fit_product(
    *, product: ProductPhysics, props: RefrigerantProperties | None = None, progress: Progress | None = None
) -> FitOutcome:
    """Fit the product's free cycle parameters to its rating points inside ``BOUNDS``.

    ``progress(evaluations, worst_relative_error)`` is called every ``PROGRESS_EVERY`` evaluations.
    """
    props = props or table_properties(product.refrigerant)
    prior = prior_parameters(product=product)
    x0 = np.log([getattr(prior, name) for name in FITTED])
    lower = np.log([BOUNDS[name][0] for name in FITTED])
    upper = np.log([BOUNDS[name][1] for name in FITTED])
    x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)

    def params_of(x: np.ndarray) -> CycleParameters:
        return dataclasses.replace(prior, **dict(zip(FITTED, np.exp(x).tolist(), strict=True)))

    evaluations = 0

    def residuals(x: np.ndarray) -> np.ndarray:
        nonlocal evaluations
        predicted = predict_ratings(product=product, parameters=params_of(x), props=props)
        rel = []
        for point, (capacity, cop) in zip(product.rating_points, predicted, strict=True):
            rel += [capacity / point.capacity_w - 1.0, cop / point.cop - 1.0]
        # An invalid point (outside the envelope) is a large, finite penalty so the search moves away.
        rel_array = np.nan_to_num(np.array(rel), nan=1.0)
        evaluations += 1
        if progress is not None and evaluations % PROGRESS_EVERY == 0:
            progress(evaluations, float(np.max(np.abs(rel_array))))
        rating = rel_array * RATING_WEIGHT
        return np.concatenate([rating, (x - x0) * PRIOR_WEIGHT])

    result = least_squares(residuals, x0, bounds=(lower, upper), x_scale=1.0, xtol=1e-10, ftol=1e-12)
    # Six significant figures: far finer than the physics, and a refit that differs only in the last
    # bits of floating point gives the same numbers, hence the same parameter set id.
    parameters = dataclasses.replace(
        prior, **{name: float(f"{value:.6g}") for name, value in zip(FITTED, np.exp(result.x), strict=True)}
    )
    predicted = predict_ratings(product=product, parameters=parameters, props=props)
    fits = tuple(
        RatingFit(
            point=p.name,
            rated_capacity_w=p.capacity_w,
            model_capacity_w=round(c, 3),
            rated_cop=p.cop,
            model_cop=round(k, 5),
        )
        for p, (c, k) in zip(product.rating_points, predicted, strict=True)
    )
    worst = max(max(abs(f.model_capacity_w / f.rated_capacity_w - 1), abs(f.model_cop / f.rated_cop - 1)) for f in fits)
    at_bounds = tuple(
        name
        for name in FITTED
        if np.isclose(getattr(parameters, name), BOUNDS[name][0], rtol=1e-3)
        or np.isclose(getattr(parameters, name), BOUNDS[name][1], rtol=1e-3)
    )
    parameter_set = ParameterSet(
        parameter_set_id=parameter_set_id(product_model_code=product.model_code, parameters=parameters),
        product_model_code=product.model_code,
        refrigerant=product.refrigerant,
        code_version=CODE_VERSION,
        parameters=parameters,
        rating_fit=fits,
        rating_data=tuple(dataclasses.asdict(p) for p in product.rating_points),
    )
    return FitOutcome(parameter_set=parameter_set, max_rating_error=float(worst), at_bounds=at_bounds)


def parameters_within_bounds(parameters: CycleParameters) -> list[str]:
    """Names of parameters outside ``BOUNDS`` (empty when all are inside)."""
    return [name for name, (lo, hi) in BOUNDS.items() if not lo - 1e-9 <= getattr(parameters, name) <= hi + 1e-9]
