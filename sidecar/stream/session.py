"""One live stream: its timeline, what its VAD heard, and what is final.

The pieces (README "Live streams" has the why):
- ``Timeline`` (timeline.py): the audio not yet final, the commit point, gaps and resets, stream times.
- ``SpeechTracker`` (speech.py): Silero VAD turns and pauses.
- the commit policy (policy.py, agreement.py, guards.py): words become final once two decodes agree
  on them (LocalAgreement-2), at a pause the VAD heard, or when a stretch reaches FORCE_COMMIT_S;
  a decode that loops or that Whisper itself doubts commits nothing.

Here they are put together: what to decode next (``plan``), what a decode makes final (``apply``), and
the ``segment``, ``speech`` and ``status`` notifications. A pause of ``silence_s`` closes the stretch,
committed whole: from the decode its first SPECULATE_S started if that heard it all, else decoded once
more. A gap or a container reset closes it too (a gap is a final with ``gap: true``), as does falling
``max_lag_s`` behind (the oldest audio is dropped as a gap).

All times in notifications are seconds of stream time: audio received plus gaps.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable, List, Optional

import numpy as np

from . import guards, policy
from .agreement import HypothesisBuffer, Word
from .capacity import Capacity
from .speech import SpeechTracker
from .step import MAX_WINDOW_S, Piece, StepResult
from .shapes import Plan, StreamOptions, StreamStats, stream_result
from .output import Output
from .timeline import SR, Timeline
from .vad import StreamingVad

log = logging.getLogger(__name__)

STEP_S = 1.0  # new audio in an open stretch before it is decoded again (times the load's factor)
MIN_WINDOW_S = 1.0  # an open stretch shorter than this is not decoded yet (Whisper guesses wildly)
FORCE_COMMIT_S = policy.FORCE_COMMIT_S
PAD_S = 0.25  # audio kept before speech starts and after it ends
HEARD_S = 0.5  # this much speech in a window that decodes to no text makes it a `decode_failed` gap
# final audio heard again before the window (Whisper mishears words at a window's edge; README, live)
CONTEXT_S = 8.0
PROMPT_CHARS = 200  # committed text given to Whisper as context
STATUS_EVERY_S = 1.0
BURST_MAX_S = 8.0  # audio that came at once, up to this long, is decoded twice: a step before its end, then to it
SPECULATE_S = 0.2  # a pause this long after speech unheard by any decode: decode up to it (a closing may reuse it)

Notify = Callable[[str, dict], None]


class LiveStream:
    def __init__(self, stream_id: str, options: StreamOptions, notify: Notify,
                 clock: Callable[[], float] = time.monotonic, capacity: Optional[Capacity] = None,
                 speech: Optional[SpeechTracker] = None, context_s: Optional[float] = None) -> None:
        """
        Args:
            capacity: the stream worker's meter (loops, failed decodes, audio received are counted there).
            speech: what hears speech (by default Silero VAD, or none when ``options.vad`` is false).
            context_s: final audio each decode hears again (CONTEXT_S by default).
        """
        self.id = stream_id
        self.options = options
        self._notify = notify
        self._clock = clock
        self._capacity = capacity or Capacity(clock)
        self.lock = threading.RLock()
        self.language = options.language
        self.language_probability = 1.0 if options.language else 0.0
        self.device = self.compute_type = self.model_name = None
        self.fallback_reason: Optional[str] = None
        self.failure: Optional[str] = None
        self.stats = StreamStats()
        self._context_s = CONTEXT_S if context_s is None else context_s
        self.timeline = Timeline(max(PAD_S, self._context_s))
        self.out = Output(stream_id, notify, self.timeline.time_of, options.partials, options.word_timestamps)
        self.speech = speech or SpeechTracker(StreamingVad() if options.vad else None, options.silence_s)
        self.hyp = HypothesisBuffer()
        self._generation = 0  # bumped when audio is dropped: decodes planned before are stale
        self._closed_at: Optional[int] = None  # a closed stretch waiting for its final decode
        self._due_since: Optional[float] = None
        self._last_open: Optional[tuple] = None  # (plan, pieces) of the last open decode, for reuse
        self._retried_at: Optional[int] = None  # a closing window decoded again after no text or a loop
        self._prompt_from = 0  # finals with a lower id are no prompt (a loop came after them)
        self._last_status = 0.0
        self._last_audio_at: Optional[float] = None
        self.input_ended = False

    # ---- input (decoder thread, RPC thread) ---------------------------------------------------
    def add_audio(self, samples: np.ndarray) -> None:
        with self.lock:
            self._last_audio_at = self._clock()
            self.timeline.append(samples, self._last_audio_at)
            self.speech.feed(samples, self.timeline.received, self.out.speech)
            # here too, not only in plan(): a worker busy with other streams must not let a writer buffer on
            self._enforce_lag()
        self._capacity.add_audio(self.id, samples.size / SR)

    def add_break(self, gap_s: float, reason: str) -> None:
        """Audio that will never come (gap_s > 0) or a new container (gap_s == 0) at the current end."""
        with self.lock:
            self.timeline.add_break(gap_s, reason)
            self.speech.restart(self.timeline.received)

    def end_input(self) -> None:
        with self.lock:
            self.input_ended = True

    def fail(self, reason: str) -> None:
        with self.lock:
            self.failure = reason

    # ---- times --------------------------------------------------------------------------------
    def times(self) -> dict:
        """What a write answers; ``lag_s``: audio no decode has dealt with (a fast writer waits while it is high)."""
        with self.lock:
            tl = self.timeline
            return {"buffered_s": tl.buffered_s(), "lag_s": tl.lag_s(), "received_s": tl.received_s()}

    @property
    def committed(self) -> int:
        return self.timeline.committed

    # ---- planning (scheduler thread) ----------------------------------------------------------
    def plan(self, now: float, step_factor: float = 1.0) -> Optional[Plan]:
        """The next decode this stream needs, or None. Also passes silence, breaks and drops.

        ``step_factor``: open stretches wait for this many STEP_S of new audio (partials thinned).
        """
        with self.lock:
            self._enforce_lag()
            self._settle()
            tl = self.timeline
            if tl.committed >= tl.received and not tl.breaks:
                return None
            context = self._context()  # heard with the stretch: the two fit one 30-s window
            limit = min(tl.limit(), tl.committed + int(MAX_WINDOW_S * SR) - context)
            if not self.speech.pending_after(tl.committed):
                return None
            closing = (self._closed_at is not None or (tl.breaks and limit == tl.breaks[0].at)
                       or (self.input_ended and limit == tl.received))
            if closing:
                end = min(limit, self._closed_at) if self._closed_at is not None else limit
                if end <= tl.committed:
                    return None
                due = self._due_since if self._due_since is not None else now
                return Plan(tl.committed, end, True, due, self._generation, context=context)
            catching_up = self.input_ended or limit < tl.received  # more audio waits than one window takes
            if (not catching_up and step_factor <= 1 and limit - tl.committed >= MIN_WINDOW_S * SR
                    and self.speech.pause_began(tl.decoded_to, SPECULATE_S)):
                # decoded now (greedy, as partials are): if the pause lasts silence_s, the closing reuses it
                return Plan(tl.committed, limit, False, self._last_audio_at or now, self._generation, 0, context)
            # STEP_S of audio no decode has seen yet (not "since the last decode ran": audio that came
            # in during a decode counts, or a writer waiting for the lag to fall would wait forever)
            fresh = tl.received - max(tl.decoded_to, tl.committed)
            if not catching_up and (fresh < STEP_S * step_factor * SR or limit - tl.committed < MIN_WINDOW_S * SR):
                return None
            thinned = 0 if catching_up else int(min(fresh / SR, STEP_S * step_factor) / STEP_S) - 1
            if (not catching_up and step_factor <= 1 and 2 * STEP_S * SR <= fresh <= BURST_MAX_S * SR
                    and tl.at_once(tl.received - fresh)):
                # a burst (an HLS segment's seconds at once): decoded to a step before its end first, so that
                # the decode to its end, right after, agrees on its words instead of the next burst's
                limit -= int(STEP_S * SR)
            return Plan(tl.committed, limit, False, self._last_audio_at or now, self._generation, max(0, thinned),
                        context)

    def _settle(self) -> None:
        """Close a stretch after a pause; pass silence and breaks that need no decode."""
        tl, sp = self.timeline, self.speech
        if sp.enabled and (sp.pending_after(tl.committed) or sp.turn_open) and self._closed_at is None:
            paused = sp.paused()
            if sp.speech_end is not None and (paused or self.input_ended):
                if sp.turn_open:
                    sp.turn_open = False
                    self.out.speech("stopped", sp.speech_end)
                if not sp.pending_after(tl.committed):
                    # two decodes agreed on the whole turn before the pause: its finals are all out
                    self.out.speech("committed", tl.committed)
                elif paused:
                    self._closed_at = min(tl.received, sp.speech_end + int(PAD_S * SR))
                    self._due_since = self._clock()
                    self._reuse_last_decode()
                # else the input ended mid-speech: plan() decodes up to its end, and that commits the turn
        if sp.enabled and not sp.pending_after(tl.committed):
            # nothing to say: move the commit point along, keeping a little audio before speech
            limit = tl.limit()
            keep_from = max(tl.committed, min(limit, sp.heard_to - int(PAD_S * SR)))
            if tl.breaks and sp.heard_to >= tl.breaks[0].at:
                keep_from = tl.breaks[0].at
            self._advance(keep_from)
        while tl.breaks and tl.committed >= tl.breaks[0].at and self._closed_at is None:
            self._pass_break()
        if self.input_ended and sp.enabled and not sp.pending_after(tl.committed):
            self._advance(tl.received)

    def _reuse_last_decode(self) -> None:
        """A stretch just closed whose speech the last open decode already covered: commit that
        decode's words now instead of decoding the same audio again."""
        if self._last_open is None:
            return
        plan, pieces = self._last_open
        if (plan.generation != self._generation or plan.start > self.committed or self.speech.speech_end is None
                or plan.end < self.speech.speech_end or self._stopped_short(plan.start, pieces, self._closed_at)):
            return  # stale, or Whisper stopped early in that decode: the closing decode takes the stretch whole
        self.out.words(self.hyp.take(len(self.hyp.pending)), plan.end)
        self._after_cut(plan, self._closed_at, closing=True)

    def _stopped_short(self, start: int, pieces: List[Piece], end: int) -> bool:
        return self.speech.missed(start, pieces[-1].end if pieces else 0.0, end)

    def _pass_break(self) -> None:
        at = self.timeline.breaks[0].at
        self.out.speech("committed", at)
        self.speech.turn_open = False
        brk = self.timeline.breaks[0]
        if brk.gap_s > 0:  # its time is read before its seconds count
            self.out.gap(at, at, brk.reason, gap_s=brk.gap_s)
        self.timeline.pass_break()
        self.hyp.reset()

    def _advance(self, index: int) -> None:
        if self.timeline.advance(index):
            self.speech.forget_before(index)

    def _enforce_lag(self) -> None:
        tl = self.timeline
        if tl.received - tl.committed <= self.options.max_lag_s * SR:
            return
        # keep the newest audio that one decode can take; the rest is dropped, and said to be
        new_start = tl.drop_point(MAX_WINDOW_S * 0.8)
        if new_start is None:
            return
        self.stats.dropped_s += (new_start - tl.committed) / SR
        self.out.gap(tl.committed, new_start, "behind")
        self._advance(new_start)
        self._closed_at = None
        self.hyp.reset()
        self._generation += 1

    def window(self, plan: Plan) -> np.ndarray:
        with self.lock:
            return self.timeline.window(plan.start - plan.context, plan.end)

    def _context(self) -> int:
        if self._retried_at == self.timeline.committed:
            return 0  # a window decoded again after it gave nothing new: heard without what it repeated
        return self.timeline.context(int(self._context_s * SR))

    def prompt(self) -> Optional[str]:
        """The finals said before the window (its context included) as Whisper's prompt."""
        with self.lock:
            before = self.timeline.committed - self._context()
            text = self.out.prompt_text(self._prompt_from, before, PROMPT_CHARS)
            parts = [p for p in (self.options.initial_prompt, text) if p]
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
            self.timeline.decoded_to = max(self.timeline.decoded_to, plan.end)
            result = policy.after_context(result, plan.context / SR)
            words = policy.words_of(result.pieces, plan.start / SR, self.speech.onset_s(plan.start, int(PAD_S * SR)))
            verdict = guards.check(words, result.avg_logprob, (plan.end - plan.start) / SR)
            if verdict.loop:
                log.info("stream %s: a loop at word %d of %r", self.id, verdict.keep,
                         "".join(w.text for w in words)[:200])
                self._capacity.count("loops")
                self._prompt_from = self.out.next_id  # the loop must not feed itself through the prompt
                words = words[:verdict.keep]
            if plan.closing:
                self._apply_closing(plan, result.pieces, words, verdict)
            else:
                self._apply_open(plan, result.pieces, words, verdict)

    def _apply_open(self, plan: Plan, pieces: List[Piece], words: List[Word], verdict: guards.Verdict) -> None:
        window_s = (plan.end - plan.start) / SR
        if window_s >= FORCE_COMMIT_S and (verdict.loop or not verdict.confident or self._stuck(plan, pieces, words)):
            # a full window (a stream behind) is decoded again the same way: it would never move on
            self._apply_closing(plan, pieces, words, verdict, turn_end=False)
            return
        self.hyp.insert(words)
        if verdict.loop or not verdict.confident:
            partial = self.hyp.pending
            self.hyp.distrust()  # shown, but never agreed with nor reused
            self._last_open = None
            self.out.partial(partial, plan.end)
            return
        decision = policy.decide_open(
            self.hyp, pieces, plan.start / SR, window_s,
            pause_at=lambda t: self.speech.pause_near(plan.start + int(t * SR)),
            stopped_short=lambda: self._stopped_short(plan.start, pieces, plan.end))
        self._last_open = (plan, pieces)
        if (not decision.words and decision.cut_s is not None and decision.cut_s >= window_s
                and self.speech.speech_in(plan.start, plan.end) >= HEARD_S):
            self._failed(plan)  # a forced cut would pass speech that decoded to nothing
            return
        self.out.words(decision.words, plan.end)
        if decision.cut_s is not None:
            self._after_cut(plan, plan.start + int(decision.cut_s * SR), closing=False)
        self.out.partial(self.hyp.pending, plan.end)

    def _apply_closing(self, plan: Plan, pieces: List[Piece], words: List[Word], verdict: guards.Verdict,
                       turn_end: bool = True) -> None:
        stuck = self._stuck(plan, pieces, words)
        if (stuck or verdict.loop) and self._retried_at != plan.start:
            self._retried_at = plan.start  # decoded again, without the prompt and the context
            self._prompt_from = self.out.next_id
            return
        if stuck and not words:
            self._failed(plan)  # speech that decoded to nothing twice: a marked gap, not silence
            return
        self.hyp.insert(words)
        self.out.words(self.hyp.take(len(self.hyp.pending)), plan.end)
        cut = plan.end
        if verdict.loop and words:  # what came before the loop is final; the audio after it is decoded again
            cut = min(plan.end, max(plan.start + 1, int(round(words[-1].end * SR))))
        if pieces and (stuck or pieces[-1].end > 0.5) and self._stopped_short(plan.start, pieces, plan.end):
            cut = min(cut, plan.start + int(pieces[-1].end * SR))  # what Whisper skipped is decoded again
        self._after_cut(plan, cut, closing=True, turn_end=turn_end and not stuck)
        if stuck:  # twice nothing past its first words: the speech after them is a marked gap
            self._failed(replace(plan, start=self.committed))

    def _stuck(self, plan: Plan, pieces: List[Piece], words: List[Word]) -> bool:
        """No text, or none past the commit point (the context's final words said again), with speech after."""
        return self.speech.speech_in(plan.start, plan.end) >= HEARD_S and (
            not words or (pieces[-1].end <= 0.5 and self._stopped_short(plan.start, pieces, plan.end)))

    def _failed(self, plan: Plan) -> None:
        self._capacity.count("decode_failed")
        self._skip(plan, "decode_failed")

    def _after_cut(self, plan: Plan, cut: int, closing: bool, turn_end: bool = True) -> None:
        if cut <= self.committed:
            return
        self._advance(cut)
        self.hyp.cut_at(cut / SR)
        self._retried_at = None
        if closing:  # (an open decode that cut stays reusable: its words after the cut are still pending)
            self.hyp.reset()
            self._last_open = None
        # the turn is whole unless Whisper stopped early (cut short of the stretch's end)
        whole = cut >= min(plan.end, self._closed_at if self._closed_at is not None else plan.end)
        if closing and whole and turn_end and (self._closed_at is not None or not self.timeline.breaks):
            self.out.speech("committed", cut)
        if closing or cut >= plan.end:
            self._closed_at = None
            self._due_since = None

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
            self._skip(plan, reason)

    def _skip(self, plan: Plan, reason: str) -> None:
        if plan.generation != self._generation or plan.start != self.committed:
            return
        self.out.gap(plan.start, plan.end, reason)
        self._advance(plan.end)
        self._closed_at = None
        self._retried_at = None
        self.hyp.reset()

    # ---- status and result --------------------------------------------------------------------
    def maybe_status(self, now: float, force: bool = False, capacity: Optional[dict] = None) -> None:
        with self.lock:
            flowing = self._last_audio_at is not None and now - self._last_audio_at < 2 * STATUS_EVERY_S
            # also while audio waits to be decoded: a writer that holds back until the lag falls sees it fall
            busy = self._last_audio_at is not None and self.timeline.lag_s() > 0
            if not force and (not (flowing or busy) or now - self._last_status < STATUS_EVERY_S):
                return
            self._last_status = now
            self.out.status(self.timeline, self.device, capacity)

    def finished(self) -> bool:
        with self.lock:
            tl = self.timeline
            return self.input_ended and tl.committed >= tl.received and not tl.breaks

    def result(self) -> dict:
        with self.lock:
            return stream_result(self)
