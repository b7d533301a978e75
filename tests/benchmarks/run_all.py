"""`make bench`: every benchmark of the project, one after the other, each printing its figures and
writing them to test-output/bench/<name>.json. A benchmark that fails is reported and the others run.

Usage: python tests/benchmarks/run_all.py [--quick] [--only NAME ...]
--quick runs smaller sizes (minutes instead of the full runs the issues ask for).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# name -> (full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "bench_rules": ([], ["--seconds", "3"]),
    "bench_cyclemodel": ([], []),
    "bench_trace_codec": ([], ["--repeat", "50"]),
    "bench_core_throughput": (["--seconds", "30"], ["--seconds", "8"]),
    "bench_core_traceability": ([], ["--units", "20000", "--trace-units", "2000", "--requests", "500"]),
    "bench_opcua": ([], ["--gateways", "3", "--seconds", "8"]),
    "bench_interop": ([], ["--cycles", "40", "--rounds", "1"]),
    "bench_line": ([], ["--units", "100"]),
    "bench_ui": ([], ["--quick"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    failed = []
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"\n== {name}: not present, skipped")
            continue
        started = time.monotonic()
        print(f"\n== {name} {' '.join(quick if args.quick else full)}", flush=True)
        code = subprocess.call([sys.executable, str(script), *(quick if args.quick else full)], cwd=ROOT)
        print(f"   ({name}: exit {code}, {time.monotonic() - started:.0f} s)")
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
