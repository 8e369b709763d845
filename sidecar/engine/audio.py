"""Open a media file, read its header, and decode its audio window by window, with an error a person can
act on for each bad input.

A file is never decoded whole: two hours of silence is a 1.3 MB FLAC but 460 MB of float32, and the
feature extractor needs several times that again (issue 19). :class:`Decoder` hands out windows of a
bounded length instead, each cut at the quietest 100 ms near its end, so memory does not grow with the
duration and no word is cut in two.
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

from ..errors import AudioTooLong, FileNotFound, NotAFile, NotAudio

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# A file that decodes to less than this share of the duration its header declares is truncated.
TRUNCATED_RATIO = 0.9
# A window ends in the middle of the quietest CUT_FRAME_S of its last CUT_SEARCH_S seconds.
CUT_FRAME_S = 0.1
CUT_SEARCH_S = 10.0
# A window whose loudest sample is below -80 dBFS (a couple of 16-bit steps) holds nothing to hear.
SILENT_PEAK = 1e-4


@dataclass(frozen=True)
class Header:
    """What a file says about itself before anything is decoded."""

    path: Path
    declared_s: Optional[float]  # None: the header does not say


@dataclass(frozen=True)
class Window:
    start_s: float  # where the window begins in the file
    samples: np.ndarray  # float32 mono at 16 kHz
    last: bool  # nothing follows it

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / SAMPLE_RATE


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


def _not_decodable(path, e: Exception) -> NotAudio:
    return NotAudio(f"{path} is not an audio or video file FFmpeg can decode ({e})", path=str(path))


def _too_long(duration_s: float, max_s: float, how: str) -> AudioTooLong:
    # No file name: the relay's uploads have made-up names, and server paths are not the caller's business.
    return AudioTooLong(
        f"The audio is {how}; this server transcribes at most {max_s:.0f} s of audio (MAX_AUDIO_S)",
        duration_s=round(duration_s, 3), max_s=max_s)


def read_header(path: str, max_s: float = 0.0) -> Header:
    """Check ``path`` and read its declared duration from the container header; nothing is decoded.

    Args:
        max_s: the longest audio accepted; 0: no limit.
    Raises:
        FileNotFound, NotAFile: the path is wrong.
        NotAudio: the file is empty, not media, or has no audio stream.
        AudioTooLong: the header declares more than ``max_s`` seconds.
    """
    import av

    p = check_path(path)
    try:
        with av.open(str(p), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise NotAudio(f"{path} has no audio stream", path=path)
            stream = container.streams.audio[0]
            declared = None
            if stream.duration is not None and stream.time_base is not None:
                declared = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                declared = container.duration / 1_000_000
    except NotAudio:
        raise
    except (av.error.FFmpegError, ValueError, IndexError, OSError) as e:
        raise _not_decodable(path, e) from e
    if max_s and declared is not None and declared > max_s:
        raise _too_long(declared, max_s, f"{declared:.0f} s long by its header")
    return Header(path=p, declared_s=declared if declared and declared > 0 else None)


def is_silent(samples: np.ndarray) -> bool:
    """Digital silence: no sample above SILENT_PEAK (a recording's noise floor is far louder)."""
    return not len(samples) or float(np.max(np.abs(samples))) < SILENT_PEAK


def quiet_cut(samples: np.ndarray, search: int, frame: int = int(CUT_FRAME_S * SAMPLE_RATE)) -> int:
    """Where to end a window of ``samples``: the middle of the quietest ``frame`` samples among the last
    ``search`` (the latest of equal ones, so that silence keeps windows full)."""
    tail = samples[max(0, len(samples) - search):]
    n = len(tail) // frame
    if n == 0:
        return len(samples)
    frames = tail[len(tail) - n * frame:].reshape(n, frame)
    energy = np.einsum("ij,ij->i", frames, frames)
    quietest = n - 1 - int(np.argmin(energy[::-1]))
    return len(samples) - (n - quietest) * frame + frame // 2


class Decoder:
    """Decodes a file to 16 kHz mono float32 a window at a time (a context manager).

    What it holds is one window and the decoder's own buffers, whatever the file's length. Errors that
    can only be known by decoding are raised by :meth:`read`, possibly after windows were handed out:
    more than ``max_s`` seconds decode (AudioTooLong), nothing decodes, or less than the header
    declared (NotAudio, truncated).
    """

    def __init__(self, header: Header, max_s: float = 0.0) -> None:
        import av

        self._av = av
        self.header = header
        self._max_samples = int(max_s * SAMPLE_RATE) if max_s else 0
        self._max_s = max_s
        self._container = None
        self._chunks: List[np.ndarray] = []
        self._pending = 0  # samples in _chunks
        self._start = 0  # the file sample where _chunks begin
        self._ended = False
        try:
            self._container = av.open(str(header.path), mode="r", metadata_errors="ignore")
            self._resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            self._frames = self._decode(self._container)
        except (av.error.FFmpegError, ValueError, IndexError, OSError) as e:
            self.close()
            raise _not_decodable(header.path, e) from e

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._resampler = None
            self._frames = iter(())
            # PyAV's resampler objects are freed only by a collection (faster-whisper issue #390).
            gc.collect()

    def _decode(self, container) -> Iterator[np.ndarray]:
        invalid = self._av.error.InvalidDataError
        packets = container.demux(container.streams.audio[0])
        while True:
            try:
                packet = next(packets)
            except (StopIteration, invalid):  # damaged framing ends the audio, as in faster-whisper;
                break  # the truncation check decides whether what decoded is enough
            try:
                frames = packet.decode()
            except invalid:  # a damaged packet is skipped
                continue
            for frame in frames:
                frame.pts = None  # resample by count, not by timestamps that may jump
                yield from self._resampled(frame)
        yield from self._resampled(None)  # flush

    def _resampled(self, frame) -> Iterator[np.ndarray]:
        for out in self._resampler.resample(frame):
            # s16 then scaled, as faster_whisper.decode_audio does, so both hear the same samples.
            yield out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0

    def read(self, window_s: float) -> Optional[Window]:
        """The next window, at most ``window_s`` seconds long; None after the last one."""
        if self._ended:
            return None
        size = int(window_s * SAMPLE_RATE)
        try:
            while self._pending < size and not self._ended:
                chunk = next(self._frames, None)
                if chunk is None:
                    self._ended = True
                elif len(chunk):
                    self._chunks.append(chunk)
                    self._pending += len(chunk)
                    if self._max_samples and self._start + self._pending > self._max_samples:
                        raise _too_long((self._start + self._pending) / SAMPLE_RATE, self._max_s,
                                        f"over {self._max_s:.0f} s long (decoded so far)")
        except (self._av.error.FFmpegError, ValueError, IndexError, OSError) as e:
            raise _not_decodable(self.header.path, e) from e
        samples = np.concatenate(self._chunks) if len(self._chunks) > 1 else (
            self._chunks[0] if self._chunks else np.zeros(0, np.float32))
        if self._ended:
            self._check_complete(self._start + len(samples))
        cut = len(samples) if self._ended else quiet_cut(samples[:size], int(CUT_SEARCH_S * SAMPLE_RATE))
        rest = samples[cut:].copy()
        window = Window(start_s=self._start / SAMPLE_RATE, samples=samples[:cut], last=self._ended)
        self._chunks, self._pending, self._start = ([rest] if len(rest) else []), len(rest), self._start + cut
        if self._ended:
            self.close()
        return window

    def _check_complete(self, total: int) -> None:
        path, duration, declared = self.header.path, total / SAMPLE_RATE, self.header.declared_s
        if total == 0:
            raise NotAudio(f"{path} contains no decodable audio", path=str(path))
        if declared and declared > 1.0 and duration < declared * TRUNCATED_RATIO:
            raise NotAudio(
                f"{path} is truncated: its header declares {declared:.1f} s but only {duration:.1f} s decode",
                path=str(path),
                declared_s=round(declared, 3),
                decoded_s=round(duration, 3),
            )
