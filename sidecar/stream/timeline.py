"""A live stream's timeline: the audio not yet final, the commit point, and the breaks (gaps, resets).

Indexes are absolute sample indexes at 16 kHz, counted over the audio received (gaps hold no samples).
Stream time, the seconds notifications carry, is an index's seconds plus the gap seconds before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

SR = 16000
QUIET_S = 0.3  # no audio for this long, and the next audio starts a new run (see ``at_once``)


@dataclass
class Break:
    at: int  # absolute sample index where it happens
    gap_s: float  # seconds of audio that will never come (0: a new container only)
    reason: str


class Timeline:
    """The audio buffer from shortly before the commit point to the newest sample.

    ``committed``: everything before it is final. ``decoded_to``: the end of the newest decoded window.
    """

    def __init__(self, keep_s: float) -> None:
        self._keep = int(keep_s * SR)  # audio kept before the commit point (context for a decode)
        self._audio = np.zeros(0, dtype=np.float32)
        self._base = 0  # absolute index of _audio[0]
        self.received = 0
        self.committed = 0
        self.decoded_to = 0
        self.breaks: List[Break] = []  # not yet passed, in order
        self._offsets: List[tuple] = []  # (at, cumulative gap seconds from there on)
        self._gap_total = 0.0
        self._since_break = 0  # the last break passed: audio before it is no context for what follows
        self._run: Optional[tuple] = None  # (index, time) where the newest run of audio began arriving
        self._arrived_at: Optional[float] = None

    def append(self, samples: np.ndarray, now: Optional[float] = None) -> None:
        """``now``: the arrival time (monotonic seconds), for ``at_once``."""
        if now is not None:
            if self._arrived_at is None or now - self._arrived_at > QUIET_S:
                self._run = (self.received, now)  # audio comes again after a quiet spell
            self._arrived_at = now
        self._audio = np.concatenate([self._audio, samples]) if self._audio.size else samples.copy()
        self.received += samples.size

    def at_once(self, start: int) -> bool:
        """Whether the audio from ``start`` to the newest sample came in one run, at more than twice real
        time (an HLS segment fetched whole), not at the pace it plays (and left waiting by a busy worker)."""
        if self._run is None or self._run[0] > start:
            return False
        return self._arrived_at - self._run[1] < (self.received - self._run[0]) / SR / 2

    def add_break(self, gap_s: float, reason: str) -> None:
        self.breaks.append(Break(self.received, float(gap_s), reason))

    def limit(self) -> int:
        """The end of the audio a decode may take now: the next break, else the newest sample."""
        return self.breaks[0].at if self.breaks else self.received

    def pass_break(self) -> Break:
        """Take the next break off the list; its gap seconds count from its index on."""
        brk = self.breaks.pop(0)
        self._since_break = brk.at
        if brk.gap_s > 0:
            self._gap_total += brk.gap_s
            self._offsets.append((brk.at, self._gap_total))
        return brk

    def advance(self, index: int) -> bool:
        """Move the commit point to ``index`` (never back); drop audio no decode needs any more."""
        if index <= self.committed:
            return False
        self.committed = index
        self.decoded_to = max(self.decoded_to, index)
        keep = max(self._base, index - self._keep)
        if keep > self._base:
            self._audio = self._audio[keep - self._base:]
            self._base = keep
        return True

    def context(self, keep: int) -> int:
        """How many samples before the commit point a decode may hear again, up to ``keep``: those still
        buffered, after the last break."""
        return max(0, self.committed - max(self._base, self._since_break, self.committed - keep))

    def window(self, start: int, end: int) -> np.ndarray:
        return self._audio[start - self._base: end - self._base].copy()

    # ---- times --------------------------------------------------------------------------------
    def time_of(self, index: int) -> float:
        extra = 0.0
        for at, cumulative in self._offsets:
            if index >= at:
                extra = cumulative
        return round(index / SR + extra, 3)

    def received_s(self) -> float:
        """Stream time at the end of the audio received, the gaps not yet passed included."""
        return round(self.time_of(self.received) + sum(b.gap_s for b in self.breaks), 3)

    def buffered_s(self) -> float:
        return round((self.received - self.committed) / SR, 3)

    def lag_s(self) -> float:
        """Audio received that no decode (nor the VAD's silence) has dealt with yet."""
        return round(max(0, self.received - max(self.decoded_to, self.committed)) / SR, 3)

    def drop_point(self, keep_s: float) -> Optional[int]:
        """Where to move the commit point so that at most ``keep_s`` of audio waits, never past a
        break (it is passed next); None when nothing need go."""
        new_start = self.received - int(keep_s * SR)
        if self.breaks and self.breaks[0].at <= new_start:
            new_start = self.breaks[0].at
        return new_start if new_start > self.committed else None
