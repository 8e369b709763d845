"""Live streams: open, write, close, abort, and the one thread that decodes them all.

Scheduling (README "Live streams"): the stream worker's decoder threads (one; on the CPU as many as
config.live_decoders) decode the streams' next windows — a stretch closed by a pause (a final) before an
open stretch (a partial), the longest-waiting first; a stream is in one decode at a time.
Windows that are due together (those that became due while the previous batch decoded) and can share
a decode (same model, language, task, and both finals or both partials) go as one batch of at most
MAX_BATCH: one encoder pass and one generate for all. Partials are greedy (beam 1); finals of a closed
stretch use the stream's beam_size. When decoding keeps the worker busy, partials are spaced further
apart (capacity.py) before finals are delayed, and a stream_open that would take it past real time is
refused with ``capacity``. File jobs keep their own worker; both use the same warm model, whose calls
CTranslate2 runs on its replicas (num_workers) in arrival order, so a long file and live streams
interleave call by call.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from concurrent.futures import Future
from typing import Callable, Dict, List, Optional, Tuple

from ..engine.fallback import with_cpu_fallback
from ..errors import Cancelled, NotAudio, QueueFull, UnknownStream
from .capacity import Capacity
from .decoder import MAX_BACKLOG_BYTES, make_decoder
from .session import LiveStream, Plan, StreamOptions
from .step import Window, decode_batch

log = logging.getLogger(__name__)

Notify = Callable[[str, dict], None]
TICK_S = 0.25
MAX_BATCH = 8  # windows decoded together at most
# The batch window, in audio: a stream with this share of a step's fresh audio joins a batch that another
# stream's due window starts. Without it, streams that take turns stay out of phase and never share.
JOIN_SHARE = 0.5


class StreamManager:
    def __init__(self, engine, notify: Notify, max_streams: int = 16,
                 clock: Callable[[], float] = time.monotonic, capacity: Optional[Capacity] = None,
                 context_s: Optional[float] = None, decoders: int = 1) -> None:
        """
        Args:
            engine: the sidecar's Engine (models, device decision, CUDA fallback).
            notify: (method, params) for ``segment`` and ``status`` notifications.
            capacity: what the worker measures about itself (a fresh one by default).
            context_s: final audio each decode hears again (session.CONTEXT_S by default).
            decoders: decodes that run at once when the streams decode on the CPU (the model needs as
                many CTranslate2 replicas); on a GPU one decoder batches them all.
        """
        self._engine = engine
        self._context_s = context_s
        self._decoder_count = max(1, decoders)
        self.capacity = capacity or Capacity(clock, self._decoder_count)
        self._notify = notify
        self._max = max_streams
        self._clock = clock
        self._streams: Dict[str, LiveStream] = {}
        self._decoders: dict = {}
        self._closing: Dict[str, Future] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._stopped = False
        self._thread: Optional[threading.Thread] = None
        self._busy: set = set()  # ids of the streams in a decode now
        self._decoding = 0  # decoder threads in a decode now
        self._pick = threading.Lock()  # one decoder thread picks its batch at a time

    def open_count(self) -> int:
        with self._cond:
            return len(self._streams)

    # ---- methods ------------------------------------------------------------------------------
    def open(self, options: StreamOptions) -> dict:
        with self._cond:
            if self._stopped:
                raise Cancelled("The sidecar is shutting down")
            if len(self._streams) >= self._max:
                raise QueueFull(f"{self._max} streams are open already; close one or retry later",
                                open_streams=len(self._streams))
            self.capacity.check_open(len(self._streams), [s.times()["lag_s"] for s in self._streams.values()])
            stream_id = f"s{next(self._ids)}"
            stream = LiveStream(stream_id, options, self._notify, clock=self._clock, capacity=self.capacity,
                                context_s=self._context_s)
            decoder = make_decoder(
                options.format,
                on_audio=lambda samples: self._on_audio(stream, samples),
                on_failure=lambda reason: self._on_failure(stream, reason),
                on_end=lambda: self._on_end(stream),
                sample_rate=options.sample_rate,
                channels=options.channels,
                name=stream_id,
            )
            self._streams[stream_id] = stream
            self._decoders[stream_id] = decoder
            self._ensure_thread()
        log.info("stream %s opened (%s)", stream_id, options.format)
        return {"stream_id": stream_id, "format": options.format, "model": options.model,
                "language": options.language, "vad": options.vad}

    def write(self, stream_id: str, data: Optional[bytes], gap_s: Optional[float], reset: bool) -> dict:
        stream, decoder = self._get(stream_id)
        if stream.failure:
            raise NotAudio(f"Stream {stream_id} failed: {stream.failure}", stream_id=stream_id)
        if decoder.backlog() > MAX_BACKLOG_BYTES:
            raise QueueFull(f"Stream {stream_id} is written faster than it decodes; wait and retry",
                            stream_id=stream_id)
        if gap_s or reset:
            # A gap restarts the container too: the bytes before it are decoded to the end first,
            # so their audio comes before the break, and the next bytes begin afresh.
            decoder.reset()
            stream.add_break(gap_s or 0.0, "gap" if gap_s else "reset")
        if data:
            decoder.write(data)
        self._wake()
        return {"stream_id": stream_id, **stream.times()}

    def close(self, stream_id: str) -> Future:
        """Flush and finish the stream; the future resolves with its result."""
        stream, decoder = self._get(stream_id)
        future: Future = Future()
        with self._cond:
            self._closing[stream_id] = future
        decoder.close()
        self._wake()
        return future

    def abort(self, stream_id: str) -> dict:
        with self._cond:
            stream = self._streams.pop(stream_id, None)
            decoder = self._decoders.pop(stream_id, None)
            future = self._closing.pop(stream_id, None)
        if stream is None:
            raise UnknownStream(f"No open stream {stream_id!r}", stream_id=stream_id)
        self.capacity.forget(stream_id)
        decoder.close()
        if future is not None:
            future.set_exception(Cancelled(f"Stream {stream_id} was aborted"))
        log.info("stream %s aborted", stream_id)
        return {"stream_id": stream_id, "aborted": True}

    def stop(self) -> int:
        """Shutdown: every open stream ends now; pending closes answer 'cancelled'."""
        with self._cond:
            self._stopped = True
            ids = list(self._streams)
            self._cond.notify_all()
        for stream_id in ids:
            try:
                self.abort(stream_id)
            except UnknownStream:
                pass
        return len(ids)

    # ---- callbacks from the decoders ----------------------------------------------------------
    def _on_audio(self, stream: LiveStream, samples) -> None:
        stream.add_audio(samples)
        self._wake()

    def _on_failure(self, stream: LiveStream, reason: str) -> None:
        stream.fail(reason)
        log.warning("stream %s failed: %s", stream.id, reason)
        self._notify("status", {"request_id": None, "stream_id": stream.id, "stage": "error",
                                "message": f"Stream failed: {reason}", "progress": None,
                                "device": stream.device})
        stream.end_input()
        self._wake()

    def _on_end(self, stream: LiveStream) -> None:
        stream.end_input()
        self._wake()

    # ---- the stream worker --------------------------------------------------------------------
    def _get(self, stream_id: str):
        with self._cond:
            stream = self._streams.get(stream_id)
            if stream is None:
                raise UnknownStream(f"No open stream {stream_id!r} (never opened, closed or aborted)",
                                    stream_id=stream_id)
            if stream_id in self._closing:
                raise UnknownStream(f"Stream {stream_id!r} is closing: no more writes", stream_id=stream_id)
            return stream, self._decoders[stream_id]

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            for i in range(self._decoder_count):
                thread = threading.Thread(target=self._work, args=(i,), name=f"stream-worker-{i}", daemon=True)
                thread.start()
                self._thread = self._thread or thread
            # status lines keep their once-a-second beat while the worker sits in a long decode
            threading.Thread(target=self._tick, name="stream-status", daemon=True).start()

    def _open_streams(self) -> Optional[list]:
        """The open streams, or None once the manager has stopped."""
        with self._cond:
            return None if self._stopped else list(self._streams.values())

    def _tick(self) -> None:
        while (streams := self._open_streams()) is not None:
            now = self._clock()
            snapshot = self.capacity.snapshot(len(streams)) if streams else None
            for stream in streams:
                stream.maybe_status(now, capacity=snapshot)
            time.sleep(TICK_S)

    def _work(self, index: int) -> None:
        while True:
            with self._pick:
                if (streams := self._open_streams()) is None:
                    return
                batch = self._next_batch(streams, index)
            if not batch:
                with self._cond:
                    self._cond.wait(TICK_S)
                continue
            try:
                self._step(batch)
            except Exception:  # never let one stream stop the others
                log.exception("streams %s: decode failed", [s.id for s, _ in batch])
                for stream, plan in batch:
                    self.capacity.count("decode_failed")
                    stream.skip(plan, "decode_failed")
            finally:
                with self._cond:
                    self._busy.difference_update(s.id for s, _ in batch)
                    self._decoding -= 1
                    self._cond.notify_all()

    def _next_batch(self, streams: List[LiveStream], index: int) -> List[Tuple[LiveStream, Plan]]:
        """What decoder ``index`` decodes next (and marks busy), or nothing. Decoders past the first take
        only streams that decode on the CPU; each takes its share of the due windows, so two decoders
        decode two windows at once rather than one batch of two."""
        with self._cond:
            busy, free = set(self._busy), self._decoder_count - self._decoding  # this one included
        if index > 0:
            streams = [s for s in streams if self._engine.device_for(s.options.device) == "cpu"]
        now = self._clock()
        factor = self.capacity.step_factor()
        ready = []
        for stream in streams:
            if stream.id in busy:
                continue
            plan = stream.plan(now, factor)
            if plan is not None:
                ready.append((stream, plan))
            self._finish_if_done(stream)
        if not ready:
            return []
        due = {id(stream) for stream, _ in ready}
        early = [(s, p) for s in streams if id(s) not in due and s.id not in busy
                 and (p := s.plan(now, factor * JOIN_SHARE)) is not None]
        if free > 1 and any(self._engine.device_for(s.options.device) != "cpu" for s, _ in ready):
            free = 1  # a GPU decodes a batch at once: one decoder batches them all
        # one decoder free: the batch as before (early joiners too); several: each takes its share of the due
        batch = pick_batch(ready, early, MAX_BATCH) if free == 1 else pick_batch(ready, (), -(-len(ready) // free))
        with self._cond:
            self._busy.update(s.id for s, _ in batch)
            self._decoding += 1
        return batch

    def _finish_if_done(self, stream: LiveStream) -> None:
        with self._cond:
            future = self._closing.get(stream.id)
        if future is None or not stream.finished():
            return
        stream.maybe_status(self._clock(), force=True, capacity=self.capacity.snapshot(self.open_count()))
        with self._cond:
            self._closing.pop(stream.id, None)
            self._streams.pop(stream.id, None)
            self._decoders.pop(stream.id, None)
        self.capacity.forget(stream.id)
        log.info("stream %s closed", stream.id)
        future.set_result(stream.result())

    def _step(self, batch: List[Tuple[LiveStream, Plan]]) -> None:
        """Decode a batch of windows (see ``pick_batch``) and hand each stream its own result."""
        first, plan = batch[0]
        opts = first.options
        windows = [Window(stream.window(p), stream.prompt()) for stream, p in batch]
        beam = plan.beam(opts)

        def decode(fallback_reason: Optional[str]):
            loaded = self._engine.model_for(None, opts.model, "cpu" if fallback_reason else opts.device)
            fallback = fallback_reason or (self._engine.decision().fallback_reason if loaded.device == "cpu" else None)
            for stream, _ in batch:
                stream.note_model(loaded.resolved.name, loaded.device, loaded.compute_type, loaded.load_s,
                                  fallback_reason=fallback)
            started = time.monotonic()
            out = decode_batch(loaded.model, windows, language=first.language, task=opts.task, beam_size=beam)
            return out, started

        def announce(reason: str, error: BaseException) -> None:
            for stream, _ in batch:
                self._notify("status", {"request_id": None, "stream_id": stream.id, "stage": "fallback",
                                        "message": f"CUDA error detected, retrying with CPU mode: {error}",
                                        "progress": None, "device": "cpu"})

        decode_id = self.capacity.start_decode()
        try:
            results, t0 = with_cpu_fallback(self._engine, self._engine.device_for(opts.device) == "cuda", decode,
                                            during="during a live stream", then="continuing on the CPU",
                                            announce=announce)
        finally:
            self.capacity.end_decode(decode_id)
        elapsed = time.monotonic() - t0
        total = sum(w.samples.size for w in windows) or 1
        shares = [elapsed * w.samples.size / total for w in windows]
        self.capacity.add_decode({stream.id: share for (stream, _), share in zip(batch, shares)}, len(batch))
        for (stream, p), share, result in zip(batch, shares, results):
            if p.thinned:
                self.capacity.count("partials_thinned", p.thinned)
            stream.apply(p, result, share)


def _priority(plan: Plan) -> tuple:
    # finals (closed stretches) first, then the longest-waiting
    return (0 if plan.closing else 1, plan.due)


def _batch_key(stream: LiveStream, plan: Plan) -> Optional[tuple]:
    """Windows with equal keys can share one decode; None: this one goes alone (language unknown)."""
    if stream.language is None:
        return None
    opts = stream.options
    return (opts.model, opts.device, stream.language, opts.task, plan.closing, plan.beam(opts))


def pick_batch(ready: List[Tuple[LiveStream, Plan]], early: List[Tuple[LiveStream, Plan]] = (),
               limit: int = MAX_BATCH) -> List[Tuple[LiveStream, Plan]]:
    """The most urgent window, and the others that can share its decode: those due now (most urgent
    first), then those that will be due soon (``early``, within the batch window)."""
    ready = sorted(ready, key=lambda sp: _priority(sp[1]))
    key = _batch_key(*ready[0])
    if key is None:
        return ready[:1]
    joiners = ready + sorted(early, key=lambda sp: _priority(sp[1]))
    return [sp for sp in joiners if _batch_key(*sp) == key][:limit]
