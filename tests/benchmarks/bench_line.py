"""A simulated line of at least 500 units, 10 % injected faults of every kind, run against the whole
MES on PostgreSQL over OPC UA: the confusion matrix against the simulator's ground truth, and every
result counted on both sides (published by the PLCs, stored by the MES).

Usage: python tests/benchmarks/bench_line.py [--units 500] [--fault-rate 0.10] [--seed 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.auth_support import SERVER_ENV
from tests.benchmarks.common import report, scratch_database
from tests.integration.line_run import run_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    for name, value in SERVER_ENV.items():  # the MES runs in this process: a key of its own, demo users allowed
        os.environ.setdefault(name, value)
    with scratch_database("mes_bench_line") as url, tempfile.TemporaryDirectory() as tmp:
        run = run_line(
            database_url=url,
            data_dir=Path(tmp),
            units=args.units,
            fault_rate=args.fault_rate,
            seed=args.seed,
            timeout_s=3600,
        )
    report(
        "line",
        {
            "units": run.units,
            "units with an injected fault": run.faulty,
            "confusion matrix": run.matrix,
            "results published by the PLCs": dict(run.published),
            "results stored by the MES": dict(run.stored),
            "lost": sum((run.published - run.stored).values()),
            "duplicated result ids": run.duplicates,
            "wall seconds": round(run.seconds),
        },
    )


if __name__ == "__main__":
    main()
