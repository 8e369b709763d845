"""Live streams straight on one sidecar (no relay): each feed's MP3 chunks written with
``stream_write`` at wall-clock pace from a thread of its own, the sidecar's ``segment`` and ``status``
notifications stamped as they are read (bench/client.py). Events take the relay's SSE shape —
``(time, "segment", segment)`` and ``(time, "lag", {lag_s, buffered_s, received_s})`` — so one
analysis serves both paths.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Dict, List

from .client import Sidecar
from .livefeed import Feed


class DirectStreams:
    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self._events: Dict[str, list] = {}
        self._lock = threading.Lock()
        sidecar.on_notification(self._on_notification)

    def _on_notification(self, now: float, method: str, params) -> None:
        stream_id = (params or {}).get("stream_id")
        with self._lock:
            events = self._events.get(stream_id)
        if events is None:
            return
        if method == "segment":
            events.append((now, "segment", params["segment"]))
        elif method == "status" and params.get("lag_s") is not None:
            events.append((now, "lag", {k: params.get(k) for k in ("lag_s", "buffered_s", "received_s", "capacity")}))

    def run(self, feeds: List[Feed], options: dict, timeout: float = 600) -> List[dict]:
        """All ``feeds`` at once, each its own stream. Returns per feed {events, result, write_errors}."""
        opened = []
        for feed in feeds:
            info, _ = self.sidecar.call("stream_open", {"format": "auto", **options})
            with self._lock:
                self._events[info["stream_id"]] = []
            opened.append((feed, info["stream_id"], {"errors": []}))
        threads = [threading.Thread(target=self._feed, args=item, daemon=True) for item in opened]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
        out = []
        for feed, stream_id, state in opened:
            result, _ = self.sidecar.call("stream_close", {"stream_id": stream_id}, timeout=timeout)
            with self._lock:
                events = self._events.pop(stream_id)
            out.append({"events": events, "result": result, "write_errors": state["errors"]})
        return out

    def _feed(self, feed: Feed, stream_id: str, state: dict) -> None:
        futures = []
        t0 = feed.started_at = time.monotonic()
        for data, end_s in feed.chunks:
            delay = t0 + end_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if data:
                _, future = self.sidecar.send("stream_write", {"stream_id": stream_id,
                                                               "data": base64.b64encode(data).decode()})
                futures.append(future)
            feed.sent.append((end_s, time.monotonic()))
        feed.finished_at = time.monotonic()
        for future in futures:
            _, msg = future.result(60)
            if "error" in msg:
                state["errors"].append(msg["error"].get("message"))
