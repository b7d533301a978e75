"""Compact trace storage: one blob per array of float64 samples; each row names its encoding.

- ``f8le-shuf-zstd`` (written): little-endian float64 samples, their bytes shuffled (every
  sample's first byte, then every second byte, …: sign and exponent bytes, which repeat from one
  sample to the next, stand together), Zstandard level 1 (RFC 8878).
- ``f8le-zlib`` (written until the fifth session; still read): little-endian float64 samples, zlib.

Against zlib on every simulated station's traces (`python tests/benchmarks/bench_trace_codec.py`,
same run): 0.77 of the stored bytes, a third of the CPU to encode, 0.72 to decode. Encoding runs for
every trace of every result on the line's busiest path (zlib spent ~0.5 ms on a 2,400-sample force
curve that it shrank by 3 %).
"""

from __future__ import annotations

import math
import sys
import threading
import zlib
from array import array
from collections.abc import Sequence

import numpy as np
import zstandard

from app.domain.results import FloatArray

ENCODING = "f8le-shuf-zstd"
ZLIB_ENCODING = "f8le-zlib"
_ZSTD_LEVEL = 1
_BYTES = 8  # float64

# A Zstandard context must not be used by two threads at once (python-zstandard's documentation):
# one per thread, made on first use.
_local = threading.local()


def _float64(samples: Sequence[float] | FloatArray) -> FloatArray:
    if isinstance(samples, np.ndarray) and samples.dtype == np.float64:
        return samples
    return np.fromiter(samples, dtype=np.float64, count=len(samples))


def encode(samples: Sequence[float] | FloatArray) -> bytes:
    """The blob of ``samples`` (a sequence of floats, or a float64 array such as Trace.arrays() gives)."""
    little = np.ascontiguousarray(_float64(samples), dtype="<f8")
    shuffled = little.view(np.uint8).reshape(-1, _BYTES).T.tobytes()
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
    return bytes(compressor.compress(shuffled))


def decode(blob: bytes, encoding: str = ENCODING) -> list[float]:
    packed = array("d")
    if encoding == ENCODING:
        decompressor = getattr(_local, "decompressor", None)
        if decompressor is None:
            decompressor = _local.decompressor = zstandard.ZstdDecompressor()
        shuffled = decompressor.decompress(blob)
        packed.frombytes(np.frombuffer(shuffled, dtype=np.uint8).reshape(_BYTES, -1).T.tobytes())
    elif encoding == ZLIB_ENCODING:
        packed.frombytes(zlib.decompress(blob))
    else:
        raise ValueError(f"unknown trace encoding {encoding!r}")
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tolist()


def summary(t_s: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray) -> dict[str, float | None]:
    """First/last time, min/max/first/last value (NaN samples ignored), shown without the samples."""
    samples = _float64(values)
    finite = samples if math.isfinite(samples.sum()) else samples[np.isfinite(samples)]
    return {
        "t_start_s": float(t_s[0]) if len(t_s) else None,
        "t_end_s": float(t_s[-1]) if len(t_s) else None,
        "value_min": float(finite.min()) if finite.size else None,
        "value_max": float(finite.max()) if finite.size else None,
        "value_first": float(samples[0]) if samples.size and math.isfinite(samples[0]) else None,
        "value_last": float(samples[-1]) if samples.size and math.isfinite(samples[-1]) else None,
    }
