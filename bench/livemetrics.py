"""Figures of a live run: latency percentiles, lag over time, and the peer's commit lines.

Latency of a segment = the wall time it reached the client − the wall time at which the audio at the
segment's ``end`` had been sent (``Feed.available_at``). For the peer, whose simulation releases the
audio at second ``t`` of the file ``t`` seconds after its start and stamps each commit with the
seconds since that start, the same quantity is ``emitted_s − end``.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

from .stats import percentile, rnd

# Lag is bounded when it never reaches MAX_LAG_S and does not keep growing: the least-squares slope
# of lag against wall time stays under MAX_SLOPE (seconds of lag gained per second of stream).
MAX_LAG_S = 10.0
MAX_SLOPE = 0.02


def spread(values: Iterable[float]) -> dict:
    values = [v for v in values if v is not None]
    return {"n": len(values), "p50": rnd(percentile(values, 50)), "p90": rnd(percentile(values, 90)),
            "max": rnd(max(values)) if values else None, "min": rnd(min(values)) if values else None}


def segment_latencies(arrivals: List[tuple], feed) -> List[float]:
    """[(arrival time, segment)] → latency seconds, in order; the last chunk's send time stands in
    for an ``end`` a few ms past the audio (rounding)."""
    out = []
    last = feed.sent[-1][1] if feed.sent else None
    for arrived, segment in arrivals:
        sent = feed.available_at(segment["end"])
        sent = last if sent is None else sent
        if sent is not None:
            out.append(arrived - sent)
    return out


def word_waits(arrivals: List[tuple], feed) -> List[float]:
    """[(arrival time, final)] → for every word of every final, the wall time the final arrived − the
    wall time the audio at that word's end had been sent. Notifications carry no word times, so a
    final's words are taken as evenly spread over its span: the first word waits the longest."""
    out = []
    last = feed.sent[-1][1] if feed.sent else None
    for arrived, segment in arrivals:
        n = len(segment["text"].split())
        for i in range(n):
            end = segment["start"] + (i + 1) * (segment["end"] - segment["start"]) / n
            sent = feed.available_at(end)
            sent = last if sent is None else sent
            if sent is not None:
                out.append(arrived - sent)
    return out


def slope(points: List[tuple]) -> Optional[float]:
    """Least-squares slope of [(x, y)], or None with fewer than 3 points or no spread in x."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def lag_figures(lags: List[tuple], t0: float) -> dict:
    """[(arrival time, lag_s)] → max, slope per second and whether the lag stayed bounded."""
    points = [(t - t0, lag) for t, lag in lags if lag is not None]
    growth = slope(points)
    peak = max((lag for _, lag in points), default=None)
    bounded = peak is not None and peak < MAX_LAG_S and (growth is None or growth < MAX_SLOPE)
    return {"max_s": rnd(peak), "slope": rnd(growth, 4), "samples": len(points), "bounded": bounded}


def peer_latencies(commits: List[dict]) -> List[float]:
    return [c["emitted_s"] - c["end"] for c in commits]

