"""The shapes a live stream is described by: its options (``StreamOptions``, stream_open's params, declared
in sidecar/params.py with transcribe's), a planned decode, its counters, its result."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import StreamOptions  # noqa: F401  (declared with TranscribeParams, in sidecar/params.py)

PARTIAL_BEAM = 1  # greedy: a partial is replaced within a second anyway


@dataclass
class Plan:
    start: int  # absolute sample index
    end: int
    closing: bool  # commit everything decoded
    due: float  # monotonic time the work became due (for fairness)
    generation: int
    thinned: int = 0  # partials left out before this one because the worker was loaded
    context: int = 0  # samples before ``start`` decoded with the window (already final; see session.CONTEXT_S)

    def beam(self, options: StreamOptions) -> int:
        """A closing searches with the stream's beam; partials are greedy."""
        return options.beam_size if self.closing else PARTIAL_BEAM


@dataclass
class StreamStats:
    decode_s: float = 0.0
    decodes: int = 0
    dropped_s: float = 0.0
    load_s: float = 0.0


def stream_result(stream) -> dict:
    """A closed stream's answer to stream_close: transcribe's result plus the stream's own fields."""
    duration = stream.timeline.time_of(stream.timeline.received)
    finals = stream.out.finals
    texts = [s["text"] for s in finals if not s.get("gap")]
    decode_s = stream.stats.decode_s
    return {
        "stream_id": stream.id,
        "text": "".join(texts).strip(),
        "language": stream.language,
        "language_probability": round(float(stream.language_probability), 4),
        "duration": duration,
        "segments": list(finals),
        "device": stream.device,
        "compute_type": stream.compute_type,
        "model": stream.model_name,
        "fallback_reason": stream.fallback_reason,
        "timings": {"queue_s": 0.0, "load_s": round(stream.stats.load_s, 4),
                    "transcribe_s": round(decode_s, 4)},
        "rtf": round(decode_s / duration, 4) if duration else None,
        "batch_size": None,
        "gaps": stream.out.gaps,
        "dropped_s": round(stream.stats.dropped_s, 3),
        "error": stream.failure,
    }
