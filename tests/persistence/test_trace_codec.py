"""Trace blobs: what is written reads back bit for bit, in the documented format; older rows stay readable."""

from __future__ import annotations

import math
import random
import struct
import threading
import zlib

import numpy as np
import pytest
import zstandard

from app.persistence import trace_codec
from app.persistence.models import TraceRow
from tests.api.driver import station_payload

# "f8le-zlib" rows written before the fifth session: [0.0, 1.5, -2.25, NaN] as those rows hold it
# (zlib.compress of the little-endian float64 bytes, level 1), fixed here rather than made by the code.
OLD_BLOB = bytes.fromhex("7801636040063fec213ca60310fa473d001f020371")


def _bits(samples: list[float]) -> bytes:
    return struct.pack(f"<{len(samples)}d", *samples)


def _awkward_samples() -> list[float]:
    rng = random.Random(7)
    samples = [rng.uniform(-1e6, 1e6) for _ in range(500)]
    samples += [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, 1e-310]
    rng.shuffle(samples)
    return samples


@pytest.mark.parametrize("samples", [[], [42.0], _awkward_samples()], ids=["empty", "one", "awkward"])
def test_samples_read_back_bit_for_bit(samples: list[float]) -> None:
    blob = trace_codec.encode(samples)
    assert _bits(trace_codec.decode(blob, trace_codec.ENCODING)) == _bits(samples)
    # a tuple and an already packed array encode alike
    assert trace_codec.encode(tuple(samples)) == blob == trace_codec.encode(np.array(samples))


def test_the_written_format_is_shuffled_float64_in_a_zstandard_frame() -> None:
    """Read with nothing but the format's description: any other tool can do the same."""
    samples = _awkward_samples()
    shuffled = zstandard.ZstdDecompressor().decompress(trace_codec.encode(samples))
    n = len(samples)
    assert len(shuffled) == 8 * n
    unshuffled = bytes(shuffled[byte * n + i] for i in range(n) for byte in range(8))
    assert unshuffled == _bits(samples)


def test_rows_in_the_older_zlib_encoding_still_read() -> None:
    assert zlib.decompress(OLD_BLOB) == _bits([0.0, 1.5, -2.25, math.nan])
    decoded = trace_codec.decode(OLD_BLOB, "f8le-zlib")
    assert decoded[:3] == [0.0, 1.5, -2.25] and math.isnan(decoded[3])


def test_the_encoding_name_fits_its_column() -> None:
    # PostgreSQL would refuse a longer name (or, cast, cut it short and leave rows nobody can read)
    assert len(trace_codec.ENCODING) <= TraceRow.__table__.c.encoding.type.length


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown trace encoding 'f4be-lzma'"):
        trace_codec.decode(trace_codec.encode([1.0]), "f4be-lzma")


def test_threads_encoding_at_once_each_get_their_own_samples_back() -> None:
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(200):
            samples = [rng.random() for _ in range(rng.randrange(1, 3000))]
            if _bits(trace_codec.decode(trace_codec.encode(samples))) != _bits(samples):
                errors.append(f"thread {seed} got other samples back")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_blobs_are_no_larger_than_the_older_encodings_for_every_station_trace() -> None:
    compared = 0
    for station_type in ("coil_expansion", "brazing", "vacuum_dehydration", "run_in"):
        for trace in station_payload(station_type, "HP26-0000001")["traces"]:
            for samples in (trace["t_s"], trace["values"]):
                if len(samples) < 100:
                    continue
                old = zlib.compress(_bits(samples), 1)
                assert len(trace_codec.encode(samples)) <= len(old), (station_type, trace["channel"])
                compared += 1
    assert compared >= 10


def test_the_summary_ignores_nan_samples() -> None:
    summary = trace_codec.summary([0.0, 1.0, 2.0, 3.0], [math.nan, 4.0, -1.0, math.nan])
    assert summary == {
        "t_start_s": 0.0,
        "t_end_s": 3.0,
        "value_min": -1.0,
        "value_max": 4.0,
        "value_first": None,
        "value_last": None,
    }
    assert trace_codec.summary([0.0], [math.nan])["value_min"] is None
    assert trace_codec.summary([], []) == dict.fromkeys(summary)
