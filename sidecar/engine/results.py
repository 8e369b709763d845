"""What the engine hands back, as typed objects; each becomes its protocol JSON only at the edge
(``to_dict``, called by the endpoint and the command line), as the GPU report does (report.py).

The shapes are the protocol's (sidecar/protocol/methods/transcribe.json, load_model.json, common.json's
segment): ``to_dict`` writes the same keys in the same order, and the same rounding, as the wire has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from .models import CachedModel, ResolvedModel


@dataclass(frozen=True)
class LoadedModel:
    """A model in memory, ready to run, and what it took to have it."""

    model: Any  # the faster-whisper WhisperModel (or what the engine's loader built)
    resolved: ResolvedModel
    device: str  # "cuda" | "cpu"
    compute_type: str
    load_s: float  # resolving and loading it now; ~0 for a warm model

    def to_dict(self) -> dict:
        """The ``load_model`` answer."""
        return {"model": self.resolved.name, "path": self.resolved.path, "source": self.resolved.source,
                "device": self.device, "compute_type": self.compute_type, "load_s": round(self.load_s, 4)}


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "word": self.word, "probability": self.probability}


@dataclass(frozen=True)
class Segment:
    id: int
    start: float  # seconds of the file
    end: float
    text: str
    words: Optional[Tuple[Word, ...]] = None  # with word_timestamps
    logprobs: Optional[List[dict]] = None  # with logprobs: [{token, logprob, bytes}] (logprobs.py)

    @classmethod
    def from_whisper(cls, seg: Any, with_words: bool, seg_id: Optional[int] = None,
                     offset_s: float = 0.0) -> "Segment":
        """A faster-whisper segment, ``offset_s`` added to its times (its window's start)."""
        words = None
        if with_words and seg.words:
            words = tuple(Word(round(w.start + offset_s, 3), round(w.end + offset_s, 3), w.word,
                               round(float(w.probability), 4)) for w in seg.words)
        return cls(seg.id if seg_id is None else seg_id, round(seg.start + offset_s, 3),
                   round(seg.end + offset_s, 3), seg.text, words)

    def to_dict(self) -> dict:
        out = {"id": self.id, "start": self.start, "end": self.end, "text": self.text}
        if self.words is not None:
            out["words"] = [w.to_dict() for w in self.words]
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        return out


@dataclass(frozen=True)
class Timings:
    queue_s: float  # waiting in the request queue
    load_s: float  # resolving and loading the model
    transcribe_s: float

    def to_dict(self) -> dict:
        return {"queue_s": round(self.queue_s, 4), "load_s": round(self.load_s, 4),
                "transcribe_s": round(self.transcribe_s, 4)}


@dataclass(frozen=True)
class Transcription:
    """A finished ``transcribe``."""

    segments: Tuple[Segment, ...]
    language: Optional[str]
    language_probability: float
    duration: float  # seconds of audio decoded
    device: str
    compute_type: str
    model: str  # the name asked for ("base", a hub id, a path)
    fallback_reason: Optional[str]  # why the CPU, when it ran there
    timings: Timings
    batch_size: Optional[int]  # the batched pipeline's, None when sequential

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    @property
    def rtf(self) -> Optional[float]:
        """Transcription time per audio second; None for audio of no duration."""
        return self.timings.transcribe_s / self.duration if self.duration else None

    def to_dict(self) -> dict:
        """The ``transcribe`` answer."""
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": round(float(self.language_probability), 4),
            "duration": round(self.duration, 3),
            "segments": [s.to_dict() for s in self.segments],
            "device": self.device,
            "compute_type": self.compute_type,
            "model": self.model,
            "fallback_reason": self.fallback_reason,
            "timings": self.timings.to_dict(),
            "rtf": round(self.rtf, 4) if self.rtf is not None else None,
            "batch_size": self.batch_size,
        }


@dataclass(frozen=True)
class ModelList:
    """The ``list_models`` answer: what runs without a download, and what could be downloaded."""

    default_model: Optional[str]  # None when the default is a model folder
    models: Tuple[CachedModel, ...]
    known: Tuple[str, ...]  # faster-whisper's short names

    def to_dict(self) -> dict:
        return {"default_model": self.default_model, "models": [m.to_dict() for m in self.models],
                "known": list(self.known)}
