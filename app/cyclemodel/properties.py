"""Refrigerant properties for the cycle solver, vectorised over numpy arrays.

Two implementations of one small interface:

* ``HeosProperties`` asks CoolProp's reference equation of state (HEOS) point by point, with the
  phase specified so no flash ever lands on the wrong side of the dome; it is the reference.
* ``TableProperties`` interpolates bicubic splines built once from HEOS on grids laid out *relative
  to the saturation line* (superheat, entropy or enthalpy above saturated vapour, subcooling), so each
  table is a smooth function on a rectangle and never straddles the phase boundary — the failure the
  CoolProp tabular backends show near saturation. Tables are cached on disk, keyed by fluid, CoolProp
  version and grid.

Units: temperatures in K, pressures in Pa, enthalpy J/kg, entropy J/(kg·K), density kg/m³.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import CoolProp
import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline, RectBivariateSpline

Array = NDArray[np.float64]

COOLPROP_FLUIDS = {"R290": "Propane", "R32": "R32"}


class RefrigerantProperties(Protocol):
    """What the cycle solver needs from a refrigerant; every method is vectorised."""

    refrigerant: str
    t_sat_min_k: float
    t_sat_max_k: float

    def p_sat(self, t_sat_k: Array) -> Array: ...
    def t_sat(self, p_pa: Array) -> Array: ...
    def vapour(self, t_sat_k: Array, superheat_k: Array) -> tuple[Array, Array, Array]:
        """(h, s, rho) of vapour at p_sat(t_sat) and t_sat + superheat."""
        ...

    def vapour_h_from_s(self, t_sat_k: Array, s: Array) -> Array:
        """h of vapour at p_sat(t_sat) with entropy s (s at or above saturated vapour)."""
        ...

    def vapour_t_s_from_h(self, t_sat_k: Array, h: Array) -> tuple[Array, Array]:
        """(T, s) of vapour at p_sat(t_sat) with enthalpy h."""
        ...

    def liquid_h(self, t_sat_k: Array, subcooling_k: Array) -> Array:
        """h of liquid at p_sat(t_sat) and t_sat - subcooling."""
        ...


@dataclass(frozen=True, slots=True)
class _Grid:
    """Where the tables are laid out; part of the cache key."""

    t_sat_min_c: float = -50.0
    t_sat_max_c: float = 72.0
    t_sat_step_k: float = 1.0
    superheat_max_k: float = 40.0
    superheat_points: int = 41
    entropy_above_sat_max: float = 700.0
    entropy_points: int = 57
    enthalpy_above_sat_max: float = 260_000.0
    enthalpy_points: int = 53
    subcooling_max_k: float = 80.0
    subcooling_points: int = 41

    def t_sat_axis_k(self) -> Array:
        n = round((self.t_sat_max_c - self.t_sat_min_c) / self.t_sat_step_k) + 1
        return np.linspace(self.t_sat_min_c, self.t_sat_max_c, n) + 273.15


GRIDS = {"R290": _Grid(t_sat_max_c=80.0), "R32": _Grid(t_sat_max_c=70.0)}


class HeosProperties:
    """Reference properties straight from CoolProp HEOS, one point at a time."""

    def __init__(self, refrigerant: str) -> None:
        self.refrigerant = refrigerant
        self._state = CoolProp.AbstractState("HEOS", COOLPROP_FLUIDS[refrigerant])
        grid = GRIDS[refrigerant]
        self.t_sat_min_k = grid.t_sat_min_c + 273.15
        self.t_sat_max_k = grid.t_sat_max_c + 273.15

    def _sat(self, t_k: float) -> tuple[float, float, float]:
        st = self._state
        st.unspecify_phase()
        st.update(CoolProp.QT_INPUTS, 1.0, t_k)
        return st.p(), st.hmass(), st.smass()

    def p_sat(self, t_sat_k: Array) -> Array:
        return np.array([self._sat(float(t))[0] for t in np.ravel(t_sat_k)]).reshape(np.shape(t_sat_k))

    def t_sat(self, p_pa: Array) -> Array:
        st = self._state
        st.unspecify_phase()
        out = []
        for p in np.ravel(p_pa):
            st.update(CoolProp.PQ_INPUTS, float(p), 1.0)
            out.append(st.T())
        return np.array(out).reshape(np.shape(p_pa))

    def _vapour_point(self, t_sat: float, superheat: float) -> tuple[float, float, float]:
        st = self._state
        if superheat <= 0.0:
            st.unspecify_phase()
            st.update(CoolProp.QT_INPUTS, 1.0, t_sat)
        else:
            p = self._sat(t_sat)[0]
            st.specify_phase(CoolProp.iphase_gas)
            st.update(CoolProp.PT_INPUTS, p, t_sat + superheat)
        return st.hmass(), st.smass(), st.rhomass()

    def vapour(self, t_sat_k: Array, superheat_k: Array) -> tuple[Array, Array, Array]:
        t, sh = np.broadcast_arrays(np.asarray(t_sat_k, float), np.asarray(superheat_k, float))
        pairs = zip(t.ravel(), sh.ravel(), strict=True)
        res = np.array([self._vapour_point(float(a), float(b)) for a, b in pairs])
        res = res.reshape((*t.shape, 3))
        return res[..., 0], res[..., 1], res[..., 2]

    def _flash(self, pair: Any, t_sat: float, value: float, *, gas: bool) -> tuple[float, float, float]:
        p = self._sat(t_sat)[0]
        st = self._state
        if gas:
            st.specify_phase(CoolProp.iphase_gas)
        else:
            st.unspecify_phase()
        if pair == CoolProp.PSmass_INPUTS:
            st.update(pair, p, value)
        else:
            st.update(pair, value, p)
        return st.hmass(), st.T(), st.smass()

    def _flash_or_nan(self, pair: Any, t_sat: float, value: float) -> tuple[float, float, float]:
        try:
            return self._flash(pair, t_sat, value, gas=True)
        except ValueError:
            # Beyond the equation of state's range (far hotter than any discharge): not a cycle state.
            return (np.nan, np.nan, np.nan)

    def vapour_h_from_s(self, t_sat_k: Array, s: Array) -> Array:
        t, ss = np.broadcast_arrays(np.asarray(t_sat_k, float), np.asarray(s, float))
        pairs = zip(t.ravel(), ss.ravel(), strict=True)
        out = [self._flash_or_nan(CoolProp.PSmass_INPUTS, float(a), float(b))[0] for a, b in pairs]
        return np.array(out).reshape(t.shape)

    def vapour_t_s_from_h(self, t_sat_k: Array, h: Array) -> tuple[Array, Array]:
        t, hh = np.broadcast_arrays(np.asarray(t_sat_k, float), np.asarray(h, float))
        pairs = zip(t.ravel(), hh.ravel(), strict=True)
        res = np.array([self._flash_or_nan(CoolProp.HmassP_INPUTS, float(a), float(b)) for a, b in pairs])
        res = res.reshape((*t.shape, 3))
        return res[..., 1], res[..., 2]

    def _liquid_point(self, t_sat: float, subcooling: float) -> float:
        st = self._state
        if subcooling <= 0.0:
            st.unspecify_phase()
            st.update(CoolProp.QT_INPUTS, 0.0, t_sat)
            return st.hmass()
        p = self._sat(t_sat)[0]
        st.specify_phase(CoolProp.iphase_liquid)
        st.update(CoolProp.PT_INPUTS, p, t_sat - subcooling)
        return st.hmass()

    def liquid_h(self, t_sat_k: Array, subcooling_k: Array) -> Array:
        t, sc = np.broadcast_arrays(np.asarray(t_sat_k, float), np.asarray(subcooling_k, float))
        out = [self._liquid_point(float(a), float(b)) for a, b in zip(t.ravel(), sc.ravel(), strict=True)]
        return np.array(out).reshape(t.shape)


def _cache_dir() -> Path:
    root = os.environ.get("MES_CYCLEMODEL_CACHE") or str(Path.home() / ".cache" / "ashp-mes" / "cyclemodel")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _extend_rows(table: Array) -> Array:
    """Fill the NaN tail of each row (points beyond the equation of state) by linear extrapolation.

    Splines need a full rectangle; the filled corner lies far outside any cycle state.
    """
    out = table.copy()
    for row in out:
        bad = np.flatnonzero(np.isnan(row))
        for j in bad:
            row[j] = 2.0 * row[j - 1] - row[j - 2]
    return out


def _build_tables(refrigerant: str, grid: _Grid) -> dict[str, Array]:
    heos = HeosProperties(refrigerant)
    t_axis = grid.t_sat_axis_k()
    sat = np.array([heos._sat(float(t)) for t in t_axis])
    h_v, s_v = sat[:, 1], sat[:, 2]
    sh_axis = np.linspace(0.0, grid.superheat_max_k, grid.superheat_points)
    ds_axis = np.linspace(0.0, grid.entropy_above_sat_max, grid.entropy_points)
    dh_axis = np.linspace(0.0, grid.enthalpy_above_sat_max, grid.enthalpy_points)
    sc_axis = np.linspace(0.0, grid.subcooling_max_k, grid.subcooling_points)
    tt, ss = np.meshgrid(t_axis, sh_axis, indexing="ij")
    h_sh, s_sh, rho_sh = heos.vapour(tt, ss)
    tt, dss = np.meshgrid(t_axis, ds_axis, indexing="ij")
    h_ps = _extend_rows(heos.vapour_h_from_s(tt, dss + s_v[:, None]))
    tt, dhh = np.meshgrid(t_axis, dh_axis, indexing="ij")
    t_ph, s_ph = heos.vapour_t_s_from_h(tt, dhh + h_v[:, None])
    t_ph, s_ph = _extend_rows(t_ph), _extend_rows(s_ph)
    tt, scc = np.meshgrid(t_axis, sc_axis, indexing="ij")
    h_liq = heos.liquid_h(tt, scc)
    return {
        "t_axis": t_axis, "ln_p": np.log(sat[:, 0]), "h_v": h_v, "s_v": s_v,
        "sh_axis": sh_axis, "h_sh": h_sh, "s_sh": s_sh, "ln_rho_sh": np.log(rho_sh),
        "ds_axis": ds_axis, "h_ps": h_ps, "dh_axis": dh_axis, "t_ph": t_ph, "s_ph": s_ph,
        "sc_axis": sc_axis, "h_liq": h_liq,
    }  # fmt: skip


def _load_or_build(refrigerant: str) -> dict[str, Array]:
    grid = GRIDS[refrigerant]
    key = hashlib.sha256(f"{refrigerant}|{CoolProp.__version__}|{grid}|v1".encode()).hexdigest()[:16]
    try:
        path: Path | None = _cache_dir() / f"{refrigerant}-{key}.npz"
    except OSError:
        path = None  # no writable cache (read-only home): build in memory, about a second per fluid
    if path is not None and path.exists():
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    tables = _build_tables(refrigerant, grid)
    if path is not None:
        try:
            # Write to a temporary file and rename, so concurrent runs never read a half-written table.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **tables)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except OSError:
            pass  # caching is an optimisation only
    return tables


class TableProperties:
    """Fast properties: splines over HEOS grids laid out relative to the saturation line."""

    def __init__(self, refrigerant: str) -> None:
        self.refrigerant = refrigerant
        tab = _load_or_build(refrigerant)
        t_axis = tab["t_axis"]
        self.t_sat_min_k = float(t_axis[0])
        self.t_sat_max_k = float(t_axis[-1])
        self._ln_p = CubicSpline(t_axis, tab["ln_p"])
        self._t_of_ln_p = CubicSpline(tab["ln_p"], t_axis)
        self._h_v = CubicSpline(t_axis, tab["h_v"])
        self._s_v = CubicSpline(t_axis, tab["s_v"])
        self._h_sh = RectBivariateSpline(t_axis, tab["sh_axis"], tab["h_sh"])
        self._s_sh = RectBivariateSpline(t_axis, tab["sh_axis"], tab["s_sh"])
        self._ln_rho_sh = RectBivariateSpline(t_axis, tab["sh_axis"], tab["ln_rho_sh"])
        self._h_ps = RectBivariateSpline(t_axis, tab["ds_axis"], tab["h_ps"])
        self._t_ph = RectBivariateSpline(t_axis, tab["dh_axis"], tab["t_ph"])
        self._s_ph = RectBivariateSpline(t_axis, tab["dh_axis"], tab["s_ph"])
        self._h_liq = RectBivariateSpline(t_axis, tab["sc_axis"], tab["h_liq"])

    def p_sat(self, t_sat_k: Array) -> Array:
        return np.exp(self._ln_p(t_sat_k))

    def t_sat(self, p_pa: Array) -> Array:
        return np.asarray(self._t_of_ln_p(np.log(p_pa)))

    def vapour(self, t_sat_k: Array, superheat_k: Array) -> tuple[Array, Array, Array]:
        t, sh = np.broadcast_arrays(np.asarray(t_sat_k, float), np.asarray(superheat_k, float))
        return (
            self._h_sh.ev(t, sh),
            self._s_sh.ev(t, sh),
            np.exp(self._ln_rho_sh.ev(t, sh)),
        )

    def vapour_h_from_s(self, t_sat_k: Array, s: Array) -> Array:
        return np.asarray(self._h_ps.ev(t_sat_k, s - self._s_v(t_sat_k)))

    def vapour_t_s_from_h(self, t_sat_k: Array, h: Array) -> tuple[Array, Array]:
        dh = h - self._h_v(t_sat_k)
        return self._t_ph.ev(t_sat_k, dh), self._s_ph.ev(t_sat_k, dh)

    def liquid_h(self, t_sat_k: Array, subcooling_k: Array) -> Array:
        return np.asarray(self._h_liq.ev(t_sat_k, subcooling_k))


@lru_cache(maxsize=8)
def table_properties(refrigerant: str) -> TableProperties:
    """The fast properties of a refrigerant, built (or loaded from the disk cache) once per process."""
    return TableProperties(refrigerant)


@lru_cache(maxsize=8)
def heos_properties(refrigerant: str) -> HeosProperties:
    """The reference HEOS properties of a refrigerant (one per process: the state object is reused)."""
    return HeosProperties(refrigerant)
