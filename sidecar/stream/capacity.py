"""What the stream worker measures about itself: how busy decoding keeps it, what a second of a stream
costs, and the counters the relay shows in /metrics (partials thinned, loops, batch sizes).

``load`` is the share of the last WINDOW_S the worker's decoders (one, or several decoding at once on the
CPU) spent decoding the open streams, the decodes under way included (1.0: no time left). A new stream is
refused when that load, plus one more stream's share of it, would pass LIMIT: refusing one stream is
better than letting every open stream fall behind. The same load spaces the partials further apart
(``step_factor``) before finals are delayed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Callable, Dict, Sequence

from ..errors import CapacityExceeded

WINDOW_S = 30.0  # the measuring window
MIN_MEASURED_S = 10.0  # audio seconds the window must hold before a refusal is trusted
LIMIT = 0.9  # the load a new stream may bring the worker to (some slack for finals at turn ends)
THIN_AT = ((0.95, 3.0), (0.75, 2.0))  # load -> the partial spacing, in STEP_S units
RETRY_AFTER_S = 30  # a refused open may retry after this long (a window's worth of new measures)
BEHIND_S = 3.0  # an open stream with this much audio waiting for its decode: the worker has no time left


class Capacity:
    def __init__(self, clock: Callable[[], float] = time.monotonic, decoders: int = 1) -> None:
        self._clock = clock
        self._decoders = max(1, decoders)  # decodes that can run at once: the time there is to decode
        self._lock = threading.Lock()
        # per open stream: (t, seconds) of decoding and of audio received; a closed stream's go with it,
        # so a refusal is about the streams open now, not about what earlier streams cost
        self._decodes: Dict[str, deque] = {}
        self._audio: Dict[str, deque] = {}
        self._running: Dict[int, float] = {}  # decodes under way: id -> when each began
        self._last_decode_id = 0
        self.partials_thinned = 0
        self.loops = 0
        self.decode_failed = 0
        self.batch_sizes: Counter = Counter()

    # ---- measures -----------------------------------------------------------------------------
    def add_audio(self, stream_id: str, seconds: float) -> None:
        with self._lock:
            self._audio.setdefault(stream_id, deque()).append((self._clock(), seconds))

    def start_decode(self) -> int:
        """A decode begins. Until ``end_decode``, the time it has run counts in the load: a decode of a
        30-s window can take seconds, and a worker busy with it is busy now, not when it ends."""
        with self._lock:
            self._last_decode_id += 1
            self._running[self._last_decode_id] = self._clock()
            return self._last_decode_id

    def end_decode(self, decode_id: int) -> None:
        with self._lock:
            self._running.pop(decode_id, None)

    def add_decode(self, shares: Dict[str, float], batch_size: int) -> None:
        """One decode: ``shares`` is each stream's part of its seconds (a stream closed meanwhile is left out)."""
        with self._lock:
            now = self._clock()
            for stream_id, seconds in shares.items():
                if stream_id in self._audio:
                    self._decodes.setdefault(stream_id, deque()).append((now, seconds))
            self.batch_sizes[batch_size] += 1

    def forget(self, stream_id: str) -> None:
        with self._lock:
            self._decodes.pop(stream_id, None)
            self._audio.pop(stream_id, None)

    def count(self, what: str, n: int = 1) -> None:
        """``what``: partials_thinned, loops or decode_failed."""
        with self._lock:
            setattr(self, what, getattr(self, what) + n)

    def figures(self) -> dict:
        """load (share of the window the open streams' decodes took), decode_s_per_audio_s (what one
        second of their audio cost), measured_audio_s (the audio behind those figures)."""
        with self._lock:
            now = self._clock()
            queues = list(self._decodes.values()) + list(self._audio.values())
            for q in queues:
                while q and q[0][0] < now - WINDOW_S:
                    q.popleft()
            decode_s = sum(d for q in self._decodes.values() for _, d in q)
            decode_s += sum(now - max(began, now - WINDOW_S) for began in self._running.values())
            audio_s = sum(a for q in self._audio.values() for _, a in q)
            oldest = min([q[0][0] for q in queues if q], default=now)
        span = max(1.0, min(WINDOW_S, now - oldest)) * self._decoders
        return {"load": round(min(1.0, decode_s / span), 3),
                "decode_s_per_audio_s": round(decode_s / audio_s, 3) if audio_s else None,
                "measured_audio_s": round(audio_s, 1)}

    # ---- decisions ----------------------------------------------------------------------------
    def step_factor(self) -> float:
        """How far apart an open stretch's decodes (partials) go now: 1 normally, more when loaded."""
        load = self.figures()["load"]
        for at, factor in THIN_AT:
            if load >= at:
                return factor
        return 1.0

    def check_open(self, open_streams: int, lags: Sequence[float] = ()) -> None:
        """Raise CapacityExceeded when one more stream would take the worker past LIMIT.

        ``lags``: the audio each open stream has waiting for its decode. As many streams BEHIND_S behind
        as there are decoders (a source faster than real time, or a worker that cannot keep up) leave no
        time over, whatever the load says.
        """
        behind_s = max(lags, default=0.0)
        if open_streams == 0:
            return  # one stream always runs: it drops audio as `behind` gaps if it must
        figures = self.figures()
        if figures["measured_audio_s"] < MIN_MEASURED_S:
            return
        projected = figures["load"] * (open_streams + 1) / open_streams
        if projected <= LIMIT and sum(1 for lag in lags if lag >= BEHIND_S) < self._decoders:
            return
        per_stream = figures["load"] / open_streams
        why = (f"one more would take it to {projected:.0%}, past {LIMIT:.0%} of real time" if projected > LIMIT
               else f"an open stream is {behind_s:.1f} s behind its audio")
        raise CapacityExceeded(
            f"No capacity for another live stream: {open_streams} open stream(s) keep the decoder "
            f"{figures['load']:.0%} busy (measured over the last {WINDOW_S:.0f} s; one second of audio costs "
            f"{figures['decode_s_per_audio_s']} s of decoding), and {why}",
            open_streams=open_streams, load=figures["load"], projected_load=round(projected, 3),
            load_per_stream=round(per_stream, 3), decode_s_per_audio_s=figures["decode_s_per_audio_s"],
            behind_s=round(behind_s, 3), limit=LIMIT, retry_after_s=RETRY_AFTER_S)

    def snapshot(self, open_streams: int) -> dict:
        """The ``capacity`` object of a live stream's status notification."""
        figures = self.figures()
        with self._lock:
            batches = {str(k): v for k, v in sorted(self.batch_sizes.items())}
            counters = {"partials_thinned": self.partials_thinned, "loops": self.loops,
                        "decode_failed": self.decode_failed}
        return {"open_streams": open_streams, "headroom": round(1.0 - figures["load"], 3), **figures,
                **counters, "batch_sizes": batches}
