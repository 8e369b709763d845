"""A live audio source for the live-stream benchmark: a recording encoded to MP3 and served from a
loopback HTTP server as an endless ``audio/mpeg`` body (chunked, no Content-Length), paced to the
wall clock in 100 ms chunks, with the wall time each chunk went out.

A chunk holds the MP3 packets whose audio ends within its 100 ms and is sent once that much audio
exists: the chunk that ends at audio second ``t`` leaves ``t`` seconds after the first byte. So
``Feed.available_at(t)`` — when the audio up to stream time ``t`` had been sent — is what a final's
latency is measured from.
"""

from __future__ import annotations

import bisect
import io
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK_S = 0.1
MP3_BIT_RATE = 32000  # as tests/fixtures/make_streams.py: 16 kHz mono, 32 kbit/s


def mp3_chunks(samples: np.ndarray, chunk_s: float = CHUNK_S, bit_rate: int = MP3_BIT_RATE) -> List[Tuple[bytes, float]]:
    """``samples`` (16 kHz mono float32) as MP3 (libmp3lame via PyAV), grouped into (bytes, audio end s)
    chunks of ``chunk_s`` seconds of audio each; the first chunk also carries the container's header."""
    import av

    buf = io.BytesIO()
    packets: List[Tuple[bytes, float]] = []
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=SAMPLE_RATE)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        step = SAMPLE_RATE // 10
        for i in range(0, pcm.size, step):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + step], format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
                packets.append((buf.tell(), _end_s(packet)))
        for packet in stream.encode(None):
            out.mux(packet)
            packets.append((buf.tell(), _end_s(packet)))
    data = buf.getvalue()
    # Each packet's bytes are those written since the previous one (the header goes with the first).
    chunks: List[Tuple[bytes, float]] = []
    start, boundary, pending_end = 0, chunk_s, 0.0
    for offset, end_s in packets:
        pending_end = max(pending_end, min(end_s, samples.size / SAMPLE_RATE))
        if end_s >= boundary - 1e-9:
            chunks.append((data[start:offset], round(pending_end, 4)))
            start = offset
            while boundary <= end_s + 1e-9:
                boundary += chunk_s
    if start < len(data):  # the container's trailer and the last packets
        chunks.append((data[start:], round(samples.size / SAMPLE_RATE, 4)))
    return chunks


def _end_s(packet) -> float:
    if packet.pts is None or packet.time_base is None:
        return 0.0
    return float((packet.pts + (packet.duration or 0)) * packet.time_base)


@dataclass
class Feed:
    """One stream's chunks and, once served, when each went out (``time.monotonic()``)."""

    name: str
    chunks: List[Tuple[bytes, float]]
    sent: List[Tuple[float, float]] = field(default_factory=list)  # (audio end s, wall time)
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    error: Optional[str] = None

    @property
    def duration(self) -> float:
        return self.chunks[-1][1] if self.chunks else 0.0

    def available_at(self, t: float) -> Optional[float]:
        """Wall time at which the audio up to stream time ``t`` had been sent; None if never."""
        ends = [e for e, _ in self.sent]
        i = bisect.bisect_left(ends, t - 1e-6)
        return self.sent[i][1] if i < len(self.sent) else None


class FeedServer:
    """``GET /<name>.mp3`` serves that feed once, paced to the wall clock, then ends the body."""

    def __init__(self, feeds: Dict[str, Feed]) -> None:
        self.feeds = feeds
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                feed = server.feeds.get(self.path.lstrip("/").removesuffix(".mp3"))
                if feed is None or feed.started_at is not None:
                    self.send_error(404, "no such feed (or already served)")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                server._pace(feed, self.wfile)
                self.close_connection = True

            def log_message(self, fmt, *args) -> None:
                log.debug("feed server: " + fmt, *args)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="feed-server", daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}.mp3"

    @staticmethod
    def _pace(feed: Feed, wfile) -> None:
        t0 = feed.started_at = time.monotonic()
        try:
            for data, end_s in feed.chunks:
                delay = t0 + end_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if data:
                    wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    wfile.flush()
                feed.sent.append((end_s, time.monotonic()))
            wfile.write(b"0\r\n\r\n")
            wfile.flush()
        except OSError as e:  # the reader went away: what was sent stays recorded
            feed.error = f"{type(e).__name__}: {e}"
        feed.finished_at = time.monotonic()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
