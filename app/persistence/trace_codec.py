"""Compact trace storage: float64 little-endian samples, zlib-compressed, one blob per array."""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections.abc import Sequence

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
    finite = [v for v in values if math.isfinite(v)]
    return {
        "t_start_s": t_s[0] if t_s else None,
        "t_end_s": t_s[-1] if t_s else None,
        "value_min": min(finite) if finite else None,
        "value_max": max(finite) if finite else None,
        "value_first": values[0] if values and math.isfinite(values[0]) else None,
        "value_last": values[-1] if values and math.isfinite(values[-1]) else None,
    }
