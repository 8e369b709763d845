"""Medians, ratios and rounding for the figures."""

from __future__ import annotations

import statistics
from typing import Iterable, Optional


def median(values: Iterable[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """a / b, or None when either is missing or b is zero."""
    if a is None or not b:
        return None
    return a / b


def rnd(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


def summary(values: list) -> dict:
    """Median, min and max of a list of seconds, with the raw values, for the JSON."""
    clean = [v for v in values if v is not None]
    return {
        "median": rnd(median(clean), 4),
        "min": rnd(min(clean), 4) if clean else None,
        "max": rnd(max(clean), 4) if clean else None,
        "n": len(clean),
        "values": [rnd(v, 4) for v in clean],
    }


def percentile(values: Iterable[float], q: float) -> Optional[float]:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)
