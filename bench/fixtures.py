"""Benchmark audio made at run time from the committed speech fixtures, with its reference text.

The long file is the four fixtures played in turn, with short silences, until it holds at least
``min_speech_s`` seconds of speech; its reference is the fixtures' texts in the same order.
"""

from __future__ import annotations

import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
NAMES = ("hello", "weather", "numbers", "story")
SAMPLE_RATE = 16000
GAP_S = 0.6


@dataclass(frozen=True)
class Clip:
    name: str
    path: str
    duration: float  # seconds
    text: str  # the reference transcript

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("text")
        return d


def _decode(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16-bit mono PCM at 16 kHz, with the standard library only."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def short_clips() -> list:
    """The committed fixtures themselves (4.6–16 s each)."""
    out = []
    for name in NAMES:
        path = AUDIO / f"{name}.flac"
        out.append(Clip(name, str(path), round(len(_decode(path)) / SAMPLE_RATE, 3),
                        (AUDIO / f"{name}.txt").read_text().strip()))
    return out


def concatenated(folder: Path, name: str, min_speech_s: float) -> Clip:
    """The fixtures in turn, ``GAP_S`` of silence after each, until ``min_speech_s`` of speech."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = [(_decode(AUDIO / f"{n}.flac"), (AUDIO / f"{n}.txt").read_text().strip()) for n in NAMES]
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    parts, texts, speech = [], [], 0.0
    while speech < min_speech_s:
        for samples, text in clips:
            parts += [samples, gap]
            texts.append(text)
            speech += len(samples) / SAMPLE_RATE
    samples = np.concatenate(parts)
    path = folder / f"{name}.wav"
    write_wav(path, samples)
    return Clip(name, str(path), round(len(samples) / SAMPLE_RATE, 3), " ".join(texts))
