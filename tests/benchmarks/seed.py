"""Seed a PostgreSQL database at scale with COPY: units that went through the monobloc route.

Usage: python tests/benchmarks/seed.py --units 200000 [--trace-units 10000] [--url URL]
Shows progress; takes minutes. Units come in cylinder lots of 5,000 for genealogy look-ups.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from sqlalchemy.engine import make_url

from app.persistence import trace_codec
from tests.benchmarks.common import progress

STATIONS = [
    ("CEX-01", "coil_expansion", ["PeakForce_kN", "LengthLoss_mm", "FinPitch_mm", "CoilBatch"]),
    ("BRZ-01", "brazing", ["PeakZoneTemp_C", "DewPoint_C", "O2_ppm", "BeltSpeed_mm_min", "FurnaceRun", "FillerLot"]),
    ("SBA-01", "sub_base_assembly", ["EarthContinuity_ohm", "EarthTestCurrent_A", "HipotPassed", "CompressorModel"]),
    (
        "VAC-01",
        "vacuum_dehydration",
        ["IsolationAt_s", "PressureAtIsolation_Pa", "TimeBelowTarget_s", "RiseTestDuration_s"],
    ),
    ("CHG-01", "charging", ["ChargedMass_g", "LiquidTemp_C", "LiquidPressure_bar", "ChargeTime_s", "CylinderLot"]),
    (
        "LKT-01",
        "leak_test",
        [
            "LeakSignal_mbar_l_s",
            "TestPressure_bar",
            "RefLeakNominal_mbar_l_s",
            "RefLeakReading_mbar_l_s",
            "TracerGas",
            "InstrumentId",
            "RefLeakCheckAt",
        ],
    ),
]
RUN_IN_NAMES = [
    f"{p}_{n}"
    for p in ("M10", "P07", "P45")
    for n in (
        "AirTemp_C",
        "WaterIn_C",
        "WaterOut_C",
        "WaterFlow_l_min",
        "CompSpeed_rps",
        "SuctionP_bar",
        "DischargeP_bar",
    )
]
LOT_SIZE = 5_000


def _dsn(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} dbname={u.database} user={u.username}"


def _blob(values: np.ndarray) -> bytes:
    return trace_codec.encode(values.astype(np.float64))


def seed(url: str, *, units: int, trace_units: int, batch: int = 5_000) -> dict[str, int]:
    rng = random.Random(7)
    nrng = np.random.default_rng(7)
    started = time.monotonic()
    with psycopg.connect(_dsn(url), autocommit=False) as conn:
        cur = conn.cursor()
        model_id = cur.execute("SELECT id FROM product_model WHERE code = 'HPM-06-R290-EVI'").fetchone()[0]
        t0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
        cur.execute(
            "INSERT INTO work_order (number, product_model_id, quantity, first_serial, last_serial, created_at) "
            "VALUES ('WO-BENCH', %s, %s, 'HP25-0000001', %s, %s) RETURNING id",
            (model_id, units, f"HP25-{units:07d}", t0),
        )
        wo_id = cur.execute("SELECT id FROM work_order WHERE number = 'WO-BENCH'").fetchone()[0]
        unit_base = cur.execute("SELECT coalesce(max(id), 0) FROM unit").fetchone()[0]
        attempt_base = cur.execute("SELECT coalesce(max(id), 0) FROM operation_attempt").fetchone()[0]
        names_total = sum(len(s[2]) for s in STATIONS) + len(RUN_IN_NAMES)
        counts = {"units": 0, "attempts": 0, "measurements": 0, "components": 0, "traces": 0, "checks": 0}
        attempt_id = attempt_base
        for first in range(0, units, batch):
            n = min(batch, units - first)
            with cur.copy(
                "COPY unit (id, serial, work_order_id, product_model_id, status, next_step, rework_loops,"
                " created_at, updated_at) FROM STDIN"
            ) as copy:
                for i in range(first, first + n):
                    when = t0 + timedelta(seconds=60 * i)
                    copy.write_row(
                        (unit_base + i + 1, f"HP25-{i + 1:07d}", wo_id, model_id, "finished", None, 0, when, when)
                    )
            attempts, measurements, components, checks, traces = [], [], [], [], []
            for i in range(first, first + n):
                uid = unit_base + i + 1
                when = t0 + timedelta(seconds=60 * i)
                lot = f"CYL-{i // LOT_SIZE:05d}"
                for k, (station, stype, names) in enumerate([*STATIONS, ("RUN-01", "run_in", RUN_IN_NAMES)]):
                    attempt_id += 1
                    s_at = when + timedelta(minutes=10 * k)
                    attempts.append(
                        (
                            attempt_id,
                            uid,
                            station,
                            stype,
                            "passed",
                            "PASS",
                            0,
                            s_at,
                            s_at + timedelta(minutes=8),
                            "plc",
                            f"B1-{attempt_id}",
                        )
                    )
                    for name in names:
                        measurements.append((attempt_id, name, rng.uniform(0, 100), "number", None))
                    checks.append((attempt_id, "main", "PASS", "range", "within limits", rng.uniform(0, 1)))
                    if stype == "charging":
                        components.append((attempt_id, uid, "cylinder_lot", lot, None, station, s_at))
                    elif stype == "brazing":
                        components.append((attempt_id, uid, "furnace_run", f"FR-{i // 500:05d}", None, station, s_at))
                    elif stype == "sub_base_assembly":
                        components.append((attempt_id, uid, "compressor", f"CMP-{i:08d}", "RSC-19-EVI", station, s_at))
                        components.append((attempt_id, uid, "inverter", f"INV-{i:08d}", "INV-06", station, s_at))
                        components.append((attempt_id, uid, "evi_valve", f"EVV-{i:08d}", "EVV-2", station, s_at))
                    elif stype == "coil_expansion":
                        components.append((attempt_id, uid, "coil_batch", f"CB-{i // 1000:05d}", None, station, s_at))
                    if i < trace_units and stype == "vacuum_dehydration":
                        t = np.arange(2700, dtype=float)
                        p = np.maximum(30.0, 1e5 * np.exp(-t / 60.0)) + nrng.normal(0, 0.5, t.size)
                        traces.append((attempt_id, "Pressure_Pa", t, p))
                    elif i < trace_units and stype == "run_in":
                        t = np.arange(2000, dtype=float) * 3.0
                        for ch in ("AirT_C", "DischargeT_C", "SuctionP_bar", "DischargeP_bar", "CoilT_C", "WaterOut_C"):
                            traces.append((attempt_id, ch, t, 20 + nrng.normal(0, 0.2, t.size).cumsum() * 0.01))
            with cur.copy(
                "COPY operation_attempt (id, unit_id, station_id, station_type, status, verdict,"
                " retest_index, started_at, completed_at, origin, result_key) FROM STDIN"
            ) as copy:
                for row in attempts:
                    copy.write_row(row)
            with cur.copy("COPY measurement (attempt_id, name, value, kind, unit) FROM STDIN") as copy:
                for row in measurements:
                    copy.write_row(row)
            with cur.copy(
                "COPY component_use (attempt_id, unit_id, kind, identifier, model, station_id, consumed_at) FROM STDIN"
            ) as copy:
                for row in components:
                    copy.write_row(row)
            with cur.copy("COPY check_result (attempt_id, name, verdict, rule, message, measured) FROM STDIN") as copy:
                for row in checks:
                    copy.write_row(row)
            if traces:
                with cur.copy(
                    "COPY trace (attempt_id, channel, n_samples, t_start_s, t_end_s, value_min, value_max,"
                    " value_first, value_last, encoding, t_blob, value_blob) FROM STDIN"
                ) as copy:
                    for aid, ch, t, v in traces:
                        copy.write_row(
                            (
                                aid,
                                ch,
                                t.size,
                                float(t[0]),
                                float(t[-1]),
                                float(v.min()),
                                float(v.max()),
                                float(v[0]),
                                float(v[-1]),
                                trace_codec.ENCODING,
                                _blob(t),
                                _blob(v),
                            )
                        )
            conn.commit()
            counts["units"] += n
            counts["attempts"] += len(attempts)
            counts["measurements"] += len(measurements)
            counts["components"] += len(components)
            counts["checks"] += len(checks)
            counts["traces"] += len(traces)
            progress("seeding units", counts["units"], units, started)
        cur.execute("SELECT setval(pg_get_serial_sequence('unit', 'id'), (SELECT max(id) FROM unit))")
        cur.execute("SELECT setval(pg_get_serial_sequence('operation_attempt', 'id'), %s)", (attempt_id,))
        cur.execute("SELECT setval(pg_get_serial_sequence('component_use', 'id'), (SELECT max(id) FROM component_use))")
        conn.commit()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    counts["names_per_unit"] = names_total
    counts["seconds"] = round(time.monotonic() - started)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--trace-units", type=int, default=10_000)
    args = parser.parse_args()
    print(seed(args.url, units=args.units, trace_units=args.trace_units))


if __name__ == "__main__":
    main()
