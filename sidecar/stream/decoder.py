"""Incremental decoding of a byte stream to 16 kHz mono float32, as the bytes arrive.

Containers (MPEG-TS/AAC, ADTS, MP3, Ogg, WAV, FLAC, ...) go through PyAV on a thread of their own that
reads from a blocking pipe, so FFmpeg demuxes exactly as it would a socket. Raw PCM s16le needs no
demuxer. Either way the samples go to ``on_audio`` in order; a container that can't be read is
restarted on the bytes that follow (live streams resync at the next frame), and a stream that never
yields audio fails with a reason.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Optional

import numpy as np

SAMPLE_RATE = 16000
# FFmpeg probes 5 MB / 5 s by default before it returns the first frame: minutes of a live radio stream.
_PROBE_OPTIONS = {"probesize": "32768", "analyzeduration": "500000"}
MAX_BACKLOG_BYTES = 16 * 1024 * 1024  # bytes written but not yet demuxed
NO_AUDIO_LIMIT_BYTES = 2 * 1024 * 1024  # this much input with no audio out: not (or no longer) audio
MAX_RESTARTS_WITHOUT_AUDIO = 8

log = logging.getLogger(__name__)

OnAudio = Callable[[np.ndarray], None]
OnFailure = Callable[[str], None]
OnEnd = Callable[[], None]


class BytePipe:
    """A blocking, bounded-by-the-caller byte queue with a file-like ``read`` for FFmpeg."""

    def __init__(self) -> None:
        self._chunks: "deque[bytes]" = deque()
        self._size = 0
        self._eof = False
        self._cond = threading.Condition()
        self.consumed = 0

    def write(self, data: bytes) -> None:
        with self._cond:
            self._chunks.append(data)
            self._size += len(data)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def backlog(self) -> int:
        with self._cond:
            return self._size

    def read(self, n: int = -1) -> bytes:
        with self._cond:
            while not self._chunks and not self._eof:
                self._cond.wait()
            if not self._chunks:
                return b""
            out = bytearray()
            while self._chunks and (n < 0 or len(out) < n):
                chunk = self._chunks.popleft()
                take = len(chunk) if n < 0 else min(len(chunk), n - len(out))
                out += chunk[:take]
                if take < len(chunk):
                    self._chunks.appendleft(chunk[take:])
            self._size -= len(out)
            self.consumed += len(out)
            return bytes(out)

    @property
    def eof(self) -> bool:
        with self._cond:
            return self._eof and not self._chunks


class PcmDecoder:
    """Raw little-endian 16-bit PCM: interleaved channels at ``rate``."""

    def __init__(self, on_audio: OnAudio, on_end: OnEnd, rate: int = SAMPLE_RATE, channels: int = 1) -> None:
        self._on_audio = on_audio
        self._on_end = on_end
        self._rate = rate
        self._channels = channels
        self._carry = b""
        self._resampler = None
        self.failure: Optional[str] = None

    def write(self, data: bytes) -> None:
        data = self._carry + data
        frame_bytes = 2 * self._channels
        usable = len(data) - len(data) % frame_bytes
        self._carry = data[usable:]
        if usable:
            self._emit(np.frombuffer(data[:usable], dtype="<i2"))

    def _emit(self, pcm: np.ndarray) -> None:
        if self._rate == SAMPLE_RATE and self._channels == 1:
            self._on_audio(pcm.astype(np.float32) / 32768.0)
            return
        import av

        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16",
                                           layout="mono" if self._channels == 1 else "stereo")
        frame.sample_rate = self._rate
        for out in self._resampler.resample(frame):
            self._on_audio(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))

    def reset(self) -> None:
        self._carry = b""

    def backlog(self) -> int:
        return len(self._carry)

    def close(self) -> None:
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                self._on_audio(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        self._on_end()

    def join(self, timeout: Optional[float] = None) -> None:
        return None


class ContainerDecoder:
    """Any container FFmpeg demuxes, fed incrementally; one thread per stream."""

    def __init__(self, on_audio: OnAudio, on_failure: OnFailure, on_end: OnEnd, fmt: Optional[str] = None,
                 name: str = "stream") -> None:
        self._on_audio = on_audio
        self._on_failure = on_failure
        self._on_end = on_end
        self._closed = False
        self._format = fmt
        self._pipe = BytePipe()
        self._lock = threading.Lock()
        self.failure: Optional[str] = None
        self.samples_out = 0
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        self._pipe.write(data)

    def backlog(self) -> int:
        return self._pipe.backlog()

    def reset(self) -> None:
        """The next bytes begin a new container (an HLS discontinuity, the data after a gap): the
        current one is decoded to its end first, so its audio comes before anything that follows."""
        with self._lock:
            old = self._pipe
            self._pipe = BytePipe()
            old.close()
        self._thread.join()
        if self.failure is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self._thread.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pipe.close()

    def join(self, timeout: Optional[float] = None) -> None:
        self._thread.join(timeout)

    # ---- the demuxing thread ------------------------------------------------------------------
    def _run(self) -> None:
        with self._lock:
            pipe = self._pipe
        self._decode_all(pipe)
        with self._lock:
            ended = self._closed and pipe is self._pipe and self.failure is None
        if ended:
            self._on_end()

    def _decode_all(self, pipe: BytePipe) -> None:
        restarts = 0
        source = _NoAudioLimit(pipe, self)
        while not pipe.eof and self.failure is None:
            before_samples, before_bytes = self.samples_out, pipe.consumed
            error = self._demux(source)
            if source.tripped:
                error = error or "no audio found"
            elif error is None:
                break
            if self.samples_out > before_samples:
                restarts = 0
            else:
                restarts += 1
            log.info("stream decoder restarting after: %s", error)
            if source.tripped or restarts >= MAX_RESTARTS_WITHOUT_AUDIO:
                self._fail(f"the bytes are not audio FFmpeg can decode ({error}; "
                           f"{pipe.consumed} bytes read, {self.samples_out / SAMPLE_RATE:.1f} s of audio decoded)")
                return
            if pipe.consumed == before_bytes and pipe.eof:
                break

    def _demux(self, pipe: BytePipe) -> Optional[str]:
        """Demux and decode until EOF. Returns None at a clean end, else the error's text."""
        import av

        try:
            container = av.open(pipe, mode="r", format=self._format, options=_PROBE_OPTIONS,
                                buffer_size=4096)
        except (av.FFmpegError, ValueError, OSError, EOFError) as e:
            return f"{type(e).__name__}: {e}"
        try:
            if not container.streams.audio:
                return "no audio stream in the container"
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            try:
                for packet in container.demux(stream):
                    for frame in packet.decode():
                        self._emit(resampler.resample(frame))
            except (av.FFmpegError, ValueError, OSError, EOFError) as e:
                return f"{type(e).__name__}: {e}"
            finally:
                try:
                    self._emit(resampler.resample(None))
                except (av.FFmpegError, ValueError):
                    pass
            return None
        finally:
            container.close()

    def _emit(self, frames) -> None:
        for frame in frames:
            samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            if samples.size:
                self.samples_out += samples.size
                self._on_audio(samples)

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self._on_failure(reason)


class _NoAudioLimit:
    """What FFmpeg reads from: the pipe, until NO_AUDIO_LIMIT_BYTES went in since the last audio came
    out (or since the start); then EOF.

    Some demuxers never give up on garbage: MPEG-TS skips bytes looking for a sync byte, so on 2 MB
    of random data it reads everything, finds no stream, and waits for more; MP3 skips junk after
    good frames the same way. The stream would never fail. An end of input there makes FFmpeg
    return, and the stream fails with a reason.
    """

    def __init__(self, pipe: BytePipe, decoder: "ContainerDecoder") -> None:
        self._pipe = pipe
        self._decoder = decoder
        self._samples_seen = decoder.samples_out
        self._mark = 0  # pipe.consumed when audio last came out
        self.tripped = False

    def read(self, n: int = -1) -> bytes:
        if self._decoder.samples_out != self._samples_seen:
            self._samples_seen, self._mark = self._decoder.samples_out, self._pipe.consumed
        if self._pipe.consumed - self._mark >= NO_AUDIO_LIMIT_BYTES:
            self.tripped = True
            return b""
        return self._pipe.read(n)


_DEMUXERS = {"aac": "aac", "adts": "aac"}


def make_decoder(fmt: str, on_audio: OnAudio, on_failure: OnFailure, on_end: OnEnd, *,
                 sample_rate: int = SAMPLE_RATE, channels: int = 1, name: str = "stream"):
    """``fmt``: "pcm_s16le", "auto" (FFmpeg probes), or an FFmpeg demuxer name ("mpegts", "mp3", ...)."""
    if fmt == "pcm_s16le":
        return PcmDecoder(on_audio, on_end, rate=sample_rate, channels=channels)
    demuxer = None if fmt == "auto" else _DEMUXERS.get(fmt, fmt)
    return ContainerDecoder(on_audio, on_failure, on_end, fmt=demuxer, name=name)
