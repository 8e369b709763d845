"""Open a media file and decode its audio, with an error a person can act on for each bad input."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FileNotFound, NotAFile, NotAudio

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# A file that decodes to less than this share of the duration its header declares is truncated.
TRUNCATED_RATIO = 0.9


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono at 16 kHz
    duration: float  # seconds


def check_path(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFound(f"File not found: {path}", path=path)
    if p.is_dir():
        raise NotAFile(f"{path} is a directory, not a media file", path=path)
    if not os.access(p, os.R_OK):
        raise FileNotFound(f"File is not readable: {path}", path=path)
    if p.stat().st_size == 0:
        raise NotAudio(f"{path} is empty (0 bytes)", path=path)
    return p


def _declared_duration(path: Path) -> float:
    import av

    with av.open(str(path), mode="r") as container:
        if not container.streams.audio:
            raise NotAudio(f"{path} has no audio stream", path=str(path))
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000
    return 0.0


def load(path: str) -> Audio:
    """Decode ``path`` (anything FFmpeg reads: audio or video) to 16 kHz mono float32.

    Raises:
        FileNotFound, NotAFile: the path is wrong.
        NotAudio: the file is empty, not media, has no audio, or is truncated.
    """
    import av
    from faster_whisper.audio import decode_audio

    p = check_path(path)
    try:
        declared = _declared_duration(p)
        samples = decode_audio(str(p), sampling_rate=SAMPLE_RATE)
    except NotAudio:
        raise
    except (av.error.FFmpegError, ValueError, IndexError, OSError) as e:
        raise NotAudio(f"{path} is not an audio or video file FFmpeg can decode ({e})", path=path) from e
    duration = len(samples) / SAMPLE_RATE
    if duration == 0:
        raise NotAudio(f"{path} contains no decodable audio", path=path)
    if declared > 1.0 and duration < declared * TRUNCATED_RATIO:
        raise NotAudio(
            f"{path} is truncated: its header declares {declared:.1f} s but only {duration:.1f} s decode",
            path=path,
            declared_s=round(declared, 3),
            decoded_s=round(duration, 3),
        )
    return Audio(samples=samples, duration=duration)
