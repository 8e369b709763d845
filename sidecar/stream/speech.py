"""What a live stream's VAD heard: speech runs, turns (started, stopped), pauses.

Silero gives one probability per 32 ms window (vad.py); here they become runs of speech with
hysteresis, and a turn opens at the first speech and stops after a pause of the stream's
``silence_ms``. Without a VAD (``vad: false``) every sample counts as speech and turns never stop.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy as np

from .timeline import SR
from .vad import WINDOW, StreamingVad

SPEECH_ON, SPEECH_OFF = 0.5, 0.35  # Silero thresholds (with hysteresis)
PAUSE_S = 0.2  # a VAD pause this long makes the end of a phrase before it stable

OnTurn = Callable[[str, int], None]  # ("started" | "stopped", absolute sample index)


class SpeechTracker:
    def __init__(self, vad: Optional[StreamingVad], silence_s: float) -> None:
        """``vad``: the Silero wrapper, or None for a stream without speech detection."""
        self._vad = vad
        self._silence = int(silence_s * SR)
        self._at = 0  # absolute index where the VAD's current windows start
        self._windows = 0  # windows given a probability since then
        self.heard_to = 0  # end of the audio the VAD has seen
        self.in_speech = False
        self.speech_end: Optional[int] = None  # end of the last speech window
        self.runs: List[list] = []  # [start, end] of recent speech runs
        self.turn_open = False  # speech started and no pause of silence_s since

    @property
    def enabled(self) -> bool:
        return self._vad is not None

    def feed(self, samples: np.ndarray, end: int, on_turn: OnTurn) -> None:
        """``samples`` end at absolute index ``end``."""
        if self._vad is None:
            self.speech_end = self.heard_to = end
            return
        probs = self._vad.feed(samples)
        start = self._at + self._windows * WINDOW
        for i, p in enumerate(probs):
            w0 = start + i * WINDOW
            w1 = w0 + WINDOW
            if p >= SPEECH_ON or (self.in_speech and p >= SPEECH_OFF):
                if self.runs and self.runs[-1][1] == w0:
                    self.runs[-1][1] = w1
                else:
                    self.runs.append([w0, w1])
                if not self.turn_open:
                    self.turn_open = True
                    on_turn("started", w0)
                self.in_speech = True
                self.speech_end = w1
            else:
                self.in_speech = False
        self._windows += len(probs)
        self.heard_to = start + len(probs) * WINDOW

    def restart(self, at: int) -> None:
        """A break at ``at``: the VAD starts afresh on the audio after it."""
        if self._vad is not None:
            self._vad.reset()
            self._at = self.heard_to = at
            self._windows = 0
        self.in_speech = False

    def pending_after(self, index: int) -> bool:
        """Whether speech was heard after ``index`` (without a VAD: whether audio came after it)."""
        return self.speech_end is not None and self.speech_end > index

    def paused(self) -> bool:
        """Whether the last speech is followed by a pause of ``silence_s`` or more."""
        if self._vad is None or self.speech_end is None or self.in_speech:
            return False
        return self.heard_to - self.speech_end >= self._silence

    def pause_began(self, after: int, min_s: float) -> bool:
        """Whether speech ended past ``after`` and at least ``min_s`` of silence followed it (a pause that
        may yet close the turn)."""
        return (self._vad is not None and not self.in_speech and self.speech_end is not None
                and self.speech_end > after and self.heard_to - self.speech_end >= min_s * SR)

    def pause_near(self, index: int, reach_s: float = 0.3) -> bool:
        """Whether the VAD heard a pause of PAUSE_S or more within ``reach_s`` of ``index``."""
        if self._vad is None:
            return False
        reach = int(reach_s * SR)
        edges = [(a[1], b[0]) for a, b in zip(self.runs, self.runs[1:])]
        if self.runs and not self.in_speech:
            edges.append((self.runs[-1][1], self.heard_to))
        return any(e - s >= PAUSE_S * SR and s - reach <= index <= e + reach for s, e in edges)

    def missed(self, start: int, text_end_s: float, end: int) -> bool:
        """Whether a decode of ``start``..``end`` whose text stops ``text_end_s`` after ``start`` left speech
        out: its text stops more than a second before ``end`` and speech was heard after it. Committing up to
        ``end`` would drop that speech's words without a trace."""
        tail = start + int(text_end_s * SR)
        return end - tail > SR and self.speech_between(tail + SR // 4, end)

    def speech_between(self, start: int, end: int) -> bool:
        if self._vad is None:
            return end > start
        return any(r[0] < end and r[1] > start for r in self.runs)

    def onset_s(self, index: int, pad: int) -> Optional[float]:
        """Seconds where the first speech the VAD heard after ``index`` starts, less ``pad`` samples (no
        word of a decode from ``index`` starts before it); None without a VAD or speech."""
        if self._vad is None:
            return None
        starts = [max(r[0], index) for r in self.runs if r[1] > index]
        return max(index, min(starts) - pad) / SR if starts else None

    def speech_in(self, start: int, end: int) -> float:
        """Seconds of speech the VAD heard between two indexes (without a VAD: all of it)."""
        if self._vad is None:
            return max(0, end - start) / SR
        return sum(max(0, min(r[1], end) - max(r[0], start)) for r in self.runs) / SR

    def forget_before(self, index: int) -> None:
        """Runs that ended a second or more before ``index`` are no longer asked about."""
        self.runs = [r for r in self.runs if r[1] > index - SR]
