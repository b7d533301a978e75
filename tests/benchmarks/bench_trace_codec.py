"""Trace blobs: the stored encoding (byte-shuffled float64, Zstandard) against the encoding it replaced
(float64, zlib level 1), in the same run, on every simulated station's traces.

Reports stored bytes and CPU per encode and per decode as ratios (new / old): an encode runs for every
trace of every result on the line's busiest path, a decode for every trace an engineer opens.
Usage: python tests/benchmarks/bench_trace_codec.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from array import array
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.persistence import trace_codec
from tests.api.driver import station_payload
from tests.benchmarks.common import report

STATION_TYPES = ("coil_expansion", "brazing", "vacuum_dehydration", "leak_test", "charging", "run_in")


def _old_encode(samples: list[float]) -> bytes:
    return zlib.compress(array("d", samples).tobytes(), 1)


def _cpu_per_call(work: Callable[[], object], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="encodes and decodes of each array per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating old/new rounds")
    args = parser.parse_args()
    arrays = [
        samples
        for station_type in STATION_TYPES
        for trace in station_payload(station_type, "HP26-0000001").get("traces", [])
        for samples in (trace["t_s"], trace["values"])
    ]
    old_blobs = [_old_encode(a) for a in arrays]
    new_blobs = [trace_codec.encode(a) for a in arrays]
    for samples, blob in zip(arrays, new_blobs, strict=True):
        assert trace_codec.decode(blob) == samples, "the new encoding must read back exactly"
    cpu = {"old encode": 0.0, "new encode": 0.0, "old decode": 0.0, "new decode": 0.0}
    # alternate, so that load which comes and goes on a shared machine falls on both alike
    for _ in range(args.rounds):
        for a, old, new in zip(arrays, old_blobs, new_blobs, strict=True):
            cpu["old encode"] += _cpu_per_call(partial(_old_encode, a), args.repeat)
            cpu["new encode"] += _cpu_per_call(partial(trace_codec.encode, a), args.repeat)
            cpu["old decode"] += _cpu_per_call(partial(trace_codec.decode, old, trace_codec.ZLIB_ENCODING), args.repeat)
            cpu["new decode"] += _cpu_per_call(partial(trace_codec.decode, new), args.repeat)
    samples_total = sum(len(a) for a in arrays)
    report(
        "trace_codec",
        {
            "arrays (time stamps and values of every station's traces)": len(arrays),
            "samples": samples_total,
            "raw float64 bytes": 8 * samples_total,
            "old encoding f8le-zlib, bytes": sum(map(len, old_blobs)),
            f"{trace_codec.ENCODING}, bytes": sum(map(len, new_blobs)),
            "bytes ratio new/old": round(sum(map(len, new_blobs)) / sum(map(len, old_blobs)), 3),
            "encode CPU ratio new/old": round(cpu["new encode"] / cpu["old encode"], 3),
            "decode CPU ratio new/old": round(cpu["new decode"] / cpu["old decode"], 3),
            "old encode, µs per 1,000 samples": round(1e6 * cpu["old encode"] / args.rounds / samples_total * 1000, 1),
            "new encode, µs per 1,000 samples": round(1e6 * cpu["new encode"] / args.rounds / samples_total * 1000, 1),
        },
    )


if __name__ == "__main__":
    main()
