"""The matching row (3), from the matcher's own self-check in :mod:`bench.match_bench`.

``match_bench.run`` times Vigil's matcher (normalization included) over the whole corpus and the
naive loop (one compiled stdlib ``re`` per keyword over the normalized text) over its first
megabytes, asserting identical (item, topic) results on that part; speeds are per megabyte.
"""

from __future__ import annotations

from bench import match_bench
from bench.table import Row

TARGET_SPEEDUP = 10.0
TARGET_RATE = 20.0


def matching_row(keywords: int, megabytes: float, naive_megabytes: float) -> Row:
    result = match_bench.run(keywords, megabytes, naive_megabytes=naive_megabytes)
    rate, speedup = result["mb_per_s"], result["speedup"]
    return Row(
        what=f"matching: {int(result['keywords']):,} keywords over {result['megabytes']:g} MB",
        measured=(
            f"{rate:.1f} MB/s, {speedup:.0f}× the per-keyword `re` loop "
            f"({result['naive_mb_per_s']:.3f} MB/s on {result['naive_megabytes']:g} MB), "
            "identical results"
        ),
        target=f"≥ {TARGET_SPEEDUP:.0f}× and ≥ {TARGET_RATE:.0f} MB/s",
        met=speedup >= TARGET_SPEEDUP and rate >= TARGET_RATE,
        notes=[
            "matching: English, French and Arabic keywords (phrases, prefixes) and statements "
            f"from bench/match_bench.py; matcher compile time {result['compile_s']:.2f} s not "
            "included; the naive loop runs on the first megabytes only (it is slow) and both "
            "must find the same (item, topic) pairs there."
        ],
    )
