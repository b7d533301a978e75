"""Compact trace storage: float64 little-endian samples, zlib-compressed, one blob per array."""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections.abc import Sequence

import numpy as np

ENCODING = "f8le-zlib"


def encode(samples: Sequence[float]) -> bytes:
    packed = array("d", samples)
    if sys.byteorder != "little":
        packed.byteswap()
    return zlib.compress(packed.tobytes(), 1)


def decode(blob: bytes, encoding: str = ENCODING) -> list[float]:
    if encoding != ENCODING:
        raise ValueError(f"unknown trace encoding {encoding!r}")
    packed = array("d")
    packed.frombytes(zlib.decompress(blob))
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tolist()


def summary(t_s: Sequence[float], values: Sequence[float]) -> dict[str, float | None]:
    """First/last time, min/max/first/last value (NaN samples ignored), shown without the samples."""
    samples = np.asarray(values, dtype=float)
    finite = samples[np.isfinite(samples)]
    return {
        "t_start_s": float(t_s[0]) if len(t_s) else None,
        "t_end_s": float(t_s[-1]) if len(t_s) else None,
        "value_min": float(finite.min()) if finite.size else None,
        "value_max": float(finite.max()) if finite.size else None,
        "value_first": float(samples[0]) if samples.size and math.isfinite(samples[0]) else None,
        "value_last": float(samples[-1]) if samples.size and math.isfinite(samples[-1]) else None,
    }
