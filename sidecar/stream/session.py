"""One live stream: its audio buffer, speech state and commit policy.

The policy, in short (README "Live streams" has the why):
- Silero VAD marks speech in 32 ms windows as the audio arrives.
- While someone speaks, the open stretch (from the last commit to the newest audio, at most 30 s) is
  decoded about once a second. Whisper's segments in it that are closed by a timestamp pair and either
  end at a pause the VAD heard or came out the same in the previous decode (LocalAgreement-2 over
  segments) are committed as finals; the rest is sent as one partial that the next decode replaces.
- A pause of ``silence_s`` closes the stretch: it is decoded once more and committed whole.
- A gap (audio that will never come) or a container reset closes it too, and a gap is committed as a
  final with ``gap: true``. A stretch that reaches ``FORCE_COMMIT_S`` without a stable segment is cut.
- A stream that falls more than ``max_lag_s`` behind drops its oldest audio as a marked gap instead of
  buffering without bound.

All times in notifications are seconds of stream time: audio received plus gaps.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from .step import MAX_WINDOW_S, Piece, StepResult
from .vad import WINDOW, StreamingVad

SR = 16000
STEP_S = 1.0  # new audio in an open stretch before it is decoded again
MIN_WINDOW_S = 1.0  # an open stretch shorter than this is not decoded yet (Whisper guesses wildly)
FORCE_COMMIT_S = 20.0  # an open stretch this long commits even what is not yet stable
PAD_S = 0.25  # audio kept before speech starts and after it ends
PAUSE_S = 0.2  # a VAD pause this long at a segment's end makes that end stable
SPEECH_ON, SPEECH_OFF = 0.5, 0.35  # Silero thresholds (with hysteresis)
PROMPT_CHARS = 200  # committed text given to Whisper as context
STATUS_EVERY_S = 1.0

Notify = Callable[[str, dict], None]


@dataclass(frozen=True)
class StreamOptions:
    language: Optional[str] = None
    task: str = "transcribe"
    model: Optional[str] = None
    device: Optional[str] = None
    initial_prompt: Optional[str] = None
    vad: bool = True
    format: str = "auto"
    sample_rate: int = SR
    channels: int = 1
    beam_size: int = 5
    partials: bool = True
    silence_s: float = 0.5
    max_lag_s: float = 60.0


@dataclass
class Plan:
    start: int  # absolute sample index
    end: int
    closing: bool  # commit everything decoded
    due: float  # monotonic time the work became due (for fairness)
    generation: int


@dataclass
class _Break:
    at: int  # absolute sample index where it happens
    gap_s: float
    reason: str


@dataclass
class StreamStats:
    decode_s: float = 0.0
    decodes: int = 0
    dropped_s: float = 0.0
    gaps: int = 0
    load_s: float = 0.0


class LiveStream:
    def __init__(self, stream_id: str, options: StreamOptions, notify: Notify,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = stream_id
        self.options = options
        self._notify = notify
        self._clock = clock
        self.lock = threading.RLock()
        self.language = options.language
        self.language_probability = 1.0 if options.language else 0.0
        self.device: Optional[str] = None
        self.compute_type: Optional[str] = None
        self.model_name: Optional[str] = None
        self.fallback_reason: Optional[str] = None
        self.failure: Optional[str] = None
        self.stats = StreamStats()
        self.finals: List[dict] = []
        self.opened_at = clock()
        # audio
        self._audio = np.zeros(0, dtype=np.float32)
        self._base = 0  # absolute index of _audio[0]
        self.received = 0  # absolute index of the end of the audio
        self.committed = 0  # everything before is final
        self._decoded_to = 0  # end of the newest decoded window
        self._breaks: List[_Break] = []  # not yet passed, in order
        self._offset_s = 0.0  # gap seconds before `committed`
        self._break_offsets: List[tuple] = []  # (at, cumulative gap seconds from there on), for times
        self._generation = 0
        # speech
        self._vad = StreamingVad() if options.vad else None
        self._vad_at = 0  # absolute index where the VAD's current windows start
        self._vad_windows = 0  # windows given a probability since then
        self._vad_to = 0  # end of the audio the VAD has seen
        self._in_speech = False
        self._speech_end: Optional[int] = None  # end of the last speech window
        self._speech_after_commit = False
        self._runs: List[list] = []  # [start, end] of speech runs the VAD heard, recent ones
        self._turn_open = False  # speech started and no pause of silence_s since
        self._silence_from: Optional[int] = None
        self._closed_at: Optional[int] = None  # a closed stretch waiting for its final decode
        self._due_since: Optional[float] = None
        self._previous: tuple = (None, [])  # (window start, normalized piece texts) of the last decode
        self._last_open: Optional[tuple] = None  # (plan, pieces) of the last open decode, for reuse
        self._last_status = 0.0
        self._last_audio_at: Optional[float] = None
        # end of input
        self.input_ended = False
        self.next_id = 0

    # ---- input (decoder thread, RPC thread) ---------------------------------------------------
    def add_audio(self, samples: np.ndarray) -> None:
        with self.lock:
            self._audio = np.concatenate([self._audio, samples]) if self._audio.size else samples.copy()
            self.received += samples.size
            self._last_audio_at = self._clock()
            if self._vad is None:
                self._speech_after_commit = True
                self._speech_end = self.received
                self._vad_to = self.received
            else:
                self._run_vad(samples)
            # here and not only when the stream worker plans: a worker busy with another stream's
            # decode must not let a fast writer buffer without bound
            self._enforce_lag()

    def add_break(self, gap_s: float, reason: str) -> None:
        """Audio that will never come (gap_s > 0) or a new container (gap_s == 0) at the current end."""
        with self.lock:
            self._breaks.append(_Break(self.received, float(gap_s), reason))
            if self._vad is not None:
                self._vad.reset()
                self._vad_at = self._vad_to = self.received
                self._vad_windows = 0
            self._in_speech = False
            self._silence_from = None

    def end_input(self) -> None:
        with self.lock:
            self.input_ended = True

    def fail(self, reason: str) -> None:
        with self.lock:
            self.failure = reason

    def _run_vad(self, samples: np.ndarray) -> None:
        probs = self._vad.feed(samples)
        start = self._vad_at + self._vad_windows * WINDOW
        for i, p in enumerate(probs):
            w0 = start + i * WINDOW
            w1 = w0 + WINDOW
            if p >= SPEECH_ON or (self._in_speech and p >= SPEECH_OFF):
                if self._runs and self._runs[-1][1] == w0:
                    self._runs[-1][1] = w1
                else:
                    self._runs.append([w0, w1])
                if not self._turn_open:
                    self._turn_open = True
                    self._speech_event("started", w0)
                self._in_speech = True
                self._speech_end = w1
                self._silence_from = None
                if w1 > self.committed:
                    self._speech_after_commit = True
            else:
                if self._in_speech or self._silence_from is None:
                    self._silence_from = w0
                self._in_speech = False
        self._vad_windows += len(probs)
        self._vad_to = start + len(probs) * WINDOW

    # ---- times --------------------------------------------------------------------------------
    def time_of(self, index: int) -> float:
        extra = 0.0
        for at, cumulative in self._break_offsets:
            if index >= at:
                extra = cumulative
        return round(index / SR + extra, 3)

    def received_s(self) -> float:
        """Stream time at the end of the audio received, gaps included: also those the worker has not
        passed yet, so a write's answer moves on by gap_s at once."""
        with self.lock:
            return round(self.time_of(self.received) + sum(b.gap_s for b in self._breaks), 3)

    def buffered_s(self) -> float:
        with self.lock:
            return round((self.received - self.committed) / SR, 3)

    def lag_s(self) -> float:
        """Audio received that no decode (nor the VAD's silence) has dealt with yet: a writer that is
        ahead of real time holds back while this is high."""
        with self.lock:
            return round(max(0, self.received - max(self._decoded_to, self.committed)) / SR, 3)

    # ---- planning (scheduler thread) ----------------------------------------------------------
    def plan(self, now: float) -> Optional[Plan]:
        """The next decode this stream needs, or None. Also passes silence, breaks and drops."""
        with self.lock:
            self._enforce_lag()
            self._settle()
            if self.committed >= self.received and not self._breaks:
                return None
            limit = self._breaks[0].at if self._breaks else self.received
            if limit - self.committed > MAX_WINDOW_S * SR:
                limit = self.committed + int(MAX_WINDOW_S * SR)
            if self._vad is not None and not self._speech_after_commit:
                return None
            closing = (self._closed_at is not None or (self._breaks and limit == self._breaks[0].at)
                       or (self.input_ended and limit == self.received))
            if closing:
                end = min(limit, self._closed_at) if self._closed_at is not None else limit
                if end <= self.committed:
                    return None
                due = self._due_since if self._due_since is not None else now
                return Plan(self.committed, end, True, due, self._generation)
            catching_up = self.input_ended or limit < self.received  # more audio waits than one window takes
            # STEP_S of audio no decode has seen yet (not "since the last decode ran": audio that came
            # in during a decode counts, or a writer waiting for the lag to fall would wait forever)
            if not catching_up and (self.received - max(self._decoded_to, self.committed) < STEP_S * SR
                                    or limit - self.committed < MIN_WINDOW_S * SR):
                return None
            return Plan(self.committed, limit, False, self._last_audio_at or now, self._generation)

    def _settle(self) -> None:
        """Close a stretch after a pause; pass silence and breaks that need no decode."""
        if self._vad is not None and (self._speech_after_commit or self._turn_open) and self._closed_at is None:
            trailing = self._vad_to - (self._speech_end or self._vad_to)
            paused = not self._in_speech and trailing >= self.options.silence_s * SR
            if self._speech_end is not None and (paused or self.input_ended):
                if self._turn_open:
                    self._turn_open = False
                    self._speech_event("stopped", self._speech_end)
                if not self._speech_after_commit:
                    # two decodes agreed on the whole turn before the pause: its finals are all out
                    self._speech_event("committed", self.committed)
                elif paused:
                    self._closed_at = min(self.received, self._speech_end + int(PAD_S * SR))
                    self._due_since = self._clock()
                    self._reuse_last_decode()
                # else the input ended mid-speech: plan() decodes up to its end, and that commits the turn
        if self._vad is not None and not self._speech_after_commit:
            # nothing to say: move the commit point along, keeping a little audio before speech
            limit = self._breaks[0].at if self._breaks else self.received
            keep_from = max(self.committed, min(limit, self._vad_to - int(PAD_S * SR)))
            if self._breaks and self._vad_to >= self._breaks[0].at:
                keep_from = self._breaks[0].at
            self._advance(keep_from)
        while self._breaks and self.committed >= self._breaks[0].at and self._closed_at is None:
            self._pass_break(self._breaks.pop(0))
        if self.input_ended and self._vad is not None and not self._speech_after_commit:
            self._advance(self.received)

    def _reuse_last_decode(self) -> None:
        """A stretch just closed whose speech the last open decode already covered: commit that
        decode's pieces now instead of decoding the same audio again."""
        if self._last_open is None:
            return
        plan, pieces = self._last_open
        if (plan.generation != self._generation or plan.start != self.committed or self._speech_end is None
                or plan.end < self._speech_end):
            return
        if self._stopped_short(plan.start, pieces, self._closed_at):
            return  # Whisper stopped early in that decode: the closing decode takes the stretch whole
        self._commit(plan, pieces, len(pieces), self._closed_at, closing=True)

    def _stopped_short(self, start: int, pieces: List[Piece], end: int) -> bool:
        """Whether a decode of ``start``..``end`` returned text only for its beginning: its last piece
        ends more than a second before ``end`` and the VAD heard speech after it. Committing up to
        ``end`` would drop that speech's words without a trace."""
        tail = start + int(pieces[-1].end * SR) if pieces else start
        return end - tail > SR and self._speech_between(tail + SR // 4, end)

    def _speech_event(self, event: str, index: int) -> None:
        """``speech`` notifications: the turns the VAD hears (started, stopped) and ``committed`` once
        every final of a closed stretch, or of everything before a break, is out."""
        self._notify("speech", {"request_id": None, "stream_id": self.id, "event": event,
                                "time": self.time_of(index), "next_id": self.next_id})

    def _pass_break(self, brk: _Break) -> None:
        self._speech_event("committed", brk.at)
        self._turn_open = False
        start_t = self.time_of(brk.at)
        if brk.gap_s > 0:
            self._offset_s += brk.gap_s
            self._break_offsets.append((brk.at, self._offset_s))
            self._emit_final({"start": start_t, "end": round(start_t + brk.gap_s, 3), "text": "",
                              "gap": True, "reason": brk.reason})
        self._previous = (None, [])

    def _advance(self, index: int) -> None:
        if index <= self.committed:
            return
        self.committed = index
        self._decoded_to = max(self._decoded_to, index)
        keep = max(self._base, index - int(PAD_S * SR))
        if keep > self._base:
            self._audio = self._audio[keep - self._base:]
            self._base = keep
        self._runs = [r for r in self._runs if r[1] > index - SR]

    def _enforce_lag(self) -> None:
        behind = self.received - self.committed
        if behind <= self.options.max_lag_s * SR:
            return
        # keep the newest audio that one decode can take; the rest is dropped, and said to be
        new_start = self.received - int(MAX_WINDOW_S * SR * 0.8)
        if self._breaks and self._breaks[0].at <= new_start:
            new_start = self._breaks[0].at  # never jump over a break; it will be passed next
        if new_start <= self.committed:
            return
        start_t, end_t = self.time_of(self.committed), self.time_of(new_start)
        self.stats.dropped_s += (new_start - self.committed) / SR
        self._emit_final({"start": start_t, "end": end_t, "text": "", "gap": True, "reason": "behind"})
        self._advance(new_start)
        self._closed_at = None
        self._speech_after_commit = self._vad is None or (self._speech_end or 0) > new_start
        self._previous = (None, [])
        self._generation += 1

    def window(self, plan: Plan) -> np.ndarray:
        with self.lock:
            return self._audio[plan.start - self._base: plan.end - self._base].copy()

    def prompt(self) -> Optional[str]:
        text = "".join(s["text"] for s in self.finals[-8:] if not s.get("gap"))[-PROMPT_CHARS:]
        parts = [p for p in (self.options.initial_prompt, text.strip()) if p]
        return " ".join(parts) or None

    # ---- applying a decode (scheduler thread) -------------------------------------------------
    def apply(self, plan: Plan, result: StepResult, decode_s: float) -> None:
        with self.lock:
            self.stats.decode_s += decode_s
            self.stats.decodes += 1
            if plan.generation != self._generation or plan.start != self.committed:
                return  # audio was dropped meanwhile: this decode is stale
            if self.language is None and result.language_probability >= 0.5:
                self.language, self.language_probability = result.language, result.language_probability
            self._decoded_to = max(self._decoded_to, plan.end)
            pieces = result.pieces
            if plan.closing:
                commit_n, cut = len(pieces), plan.end
                tail = plan.start + int(pieces[-1].end * SR) if pieces else plan.start
                if (pieces and tail > plan.start + SR // 2 and plan.end - tail > SR
                        and self._speech_between(tail + SR // 4, plan.end)):
                    cut = tail  # Whisper stopped early: what it skipped is decoded again, not lost
            else:
                commit_n, cut = self._stable(plan, pieces)
                self._last_open = (plan, pieces)
            self._commit(plan, pieces, commit_n, cut, plan.closing)

    def _commit(self, plan: Plan, pieces: List[Piece], commit_n: int, cut: Optional[int], closing: bool) -> None:
        """Emit the first ``commit_n`` pieces as finals and the rest as the partial; cut at ``cut``."""
        for piece in pieces[:commit_n]:
            self._emit_final({"start": self.time_of(plan.start + int(piece.start * SR)),
                              "end": self.time_of(min(plan.end, plan.start + int(piece.end * SR))),
                              "text": piece.text})
        if cut is not None and cut > self.committed:
            self._advance(cut)
            self._previous = (None, [])
            self._last_open = None
            # the turn is whole unless Whisper stopped early (cut short of the stretch's end)
            whole = cut >= min(plan.end, self._closed_at if self._closed_at is not None else plan.end)
            if closing and whole and (self._closed_at is not None or not self._breaks):
                self._speech_event("committed", cut)
            if closing or cut >= plan.end:
                self._closed_at = None
                self._due_since = None
                self._speech_after_commit = self._vad is None and self.received > cut
                if self._vad is not None and (self._speech_end or 0) > cut:
                    self._speech_after_commit = True
        else:
            self._previous = (plan.start, [_norm(p.text) for p in pieces])
        rest = pieces[commit_n:]
        if rest and self.options.partials:
            self._notify("segment", {"request_id": None, "stream_id": self.id, "segment": {
                "id": self.next_id,
                "start": self.time_of(plan.start + int(rest[0].start * SR)),
                "end": self.time_of(plan.end),
                "text": "".join(p.text for p in rest),
                "final": False,
            }})

    def _stable(self, plan: Plan, pieces: List[Piece]):
        """How many leading pieces to commit now, and the sample index to cut at."""
        window_s = (plan.end - plan.start) / SR
        prev_start, prev_texts = self._previous
        n = 0
        for j, piece in enumerate(pieces[:-1]):
            if not piece.finished or piece.end >= window_s - 0.3:
                break
            agreed = prev_start == plan.start and j < len(prev_texts) and prev_texts[j] == _norm(piece.text)
            if not (agreed or self._pause_near(plan.start + int(piece.end * SR))):
                break
            n = j + 1
        if n:
            return n, plan.start + int(pieces[n - 1].end * SR)
        if window_s >= FORCE_COMMIT_S:
            if len(pieces) > 1:
                return len(pieces) - 1, plan.start + int(pieces[-2].end * SR)
            if pieces and pieces[0].end > 0.5 and self._stopped_short(plan.start, pieces, plan.end):
                # one segment that ends well before the window does: commit it, decode the rest again
                return 1, plan.start + int(pieces[0].end * SR)
            return len(pieces), plan.end
        return 0, None

    def _pause_near(self, index: int) -> bool:
        """Whether the VAD heard a pause of PAUSE_S or more within 0.3 s of ``index``."""
        if self._vad is None:
            return False
        reach = int(0.3 * SR)
        edges = [(a[1], b[0]) for a, b in zip(self._runs, self._runs[1:])]
        if self._runs and not self._in_speech:
            edges.append((self._runs[-1][1], self._vad_to))
        return any(e - s >= PAUSE_S * SR and s - reach <= index <= e + reach for s, e in edges)

    def _speech_between(self, start: int, end: int) -> bool:
        if self._vad is None:
            return end > start
        return any(r[0] < end and r[1] > start for r in self._runs)

    def _emit_final(self, segment: dict) -> None:
        if not segment.get("gap") and not segment["text"].strip():
            return
        segment = {"id": self.next_id, **segment, "final": True}
        self.next_id += 1
        if segment.get("gap"):
            self.stats.gaps += 1
        self.finals.append(segment)
        self._notify("segment", {"request_id": None, "stream_id": self.id, "segment": segment})

    def note_model(self, name: str, device: str, compute_type: str, load_s: float,
                   fallback_reason: Optional[str] = None) -> None:
        with self.lock:
            self.model_name, self.device, self.compute_type = name, device, compute_type
            self.stats.load_s += load_s
            if fallback_reason:
                self.fallback_reason = fallback_reason

    def skip(self, plan: Plan, reason: str) -> None:
        """A window that could not be decoded becomes a marked gap, so the stream goes on."""
        with self.lock:
            if plan.generation != self._generation or plan.start != self.committed:
                return
            self._emit_final({"start": self.time_of(plan.start), "end": self.time_of(plan.end), "text": "",
                              "gap": True, "reason": reason})
            self._advance(plan.end)
            self._closed_at = None
            self._speech_after_commit = (self._speech_end or 0) > plan.end
            self._previous = (None, [])

    # ---- status and result --------------------------------------------------------------------
    def maybe_status(self, now: float, force: bool = False) -> None:
        with self.lock:
            flowing = self._last_audio_at is not None and now - self._last_audio_at < 2 * STATUS_EVERY_S
            if not force and (not flowing or now - self._last_status < STATUS_EVERY_S):
                return
            self._last_status = now
            lag = self.lag_s()
            self._notify("status", {
                "request_id": None, "stream_id": self.id, "stage": "live",
                "message": f"Live: {self.received_s():.1f} s received, {lag:.1f} s behind",
                "progress": None, "device": self.device, "lag_s": lag, "buffered_s": self.buffered_s(),
                "received_s": self.received_s(),
            })

    def finished(self) -> bool:
        with self.lock:
            return self.input_ended and self.committed >= self.received and not self._breaks

    def result(self) -> dict:
        with self.lock:
            duration = self.time_of(self.received)
            texts = [s["text"] for s in self.finals if not s.get("gap")]
            decode_s = self.stats.decode_s
            return {
                "stream_id": self.id,
                "text": "".join(texts).strip(),
                "language": self.language,
                "language_probability": round(float(self.language_probability), 4),
                "duration": duration,
                "segments": list(self.finals),
                "device": self.device,
                "compute_type": self.compute_type,
                "model": self.model_name,
                "fallback_reason": self.fallback_reason,
                "timings": {"queue_s": 0.0, "load_s": round(self.stats.load_s, 4),
                            "transcribe_s": round(decode_s, 4)},
                "rtf": round(decode_s / duration, 4) if duration else None,
                "batch_size": None,
                "gaps": self.stats.gaps,
                "dropped_s": round(self.stats.dropped_s, 3),
                "error": self.failure,
            }


_PUNCT = re.compile(r"[^\w\s]")


def _norm(text: str) -> str:
    return " ".join(_PUNCT.sub("", text.lower()).split())
