"""The relay as the live-stream benchmark drives it: ``node relay.js`` on a free loopback port with a
temporary DATA_DIR, live jobs posted as URLs, and each job's SSE read on a thread of its own with the
arrival time (``time.monotonic()``) of every event.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import deque
from pathlib import Path
from typing import List, Optional, Tuple

from .client import BASE_ENV
from .fixtures import ROOT

log = logging.getLogger(__name__)


class RelayFailed(RuntimeError):
    pass


class Relay:
    def __init__(self, env: Optional[dict] = None, node: str = "node", start_timeout: float = 120) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="bench-live-relay-")
        full_env = {**os.environ, **BASE_ENV, **(env or {}), "PORT": "0", "HOST": "127.0.0.1",
                    "DATA_DIR": self.data_dir, "ALLOW_PRIVATE_URLS": "1", "LOG_LEVEL": "warn",
                    "RATE_LIMIT_PER_MIN": "1000"}
        self.proc = subprocess.Popen([node, "relay.js"], cwd=str(ROOT), env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.pid = self.proc.pid
        self.output: deque = deque(maxlen=60)
        self._listening = threading.Event()
        self.origin: Optional[str] = None
        threading.Thread(target=self._read_output, daemon=True).start()
        if not self._listening.wait(start_timeout) or self.origin is None:
            self.close()
            raise RelayFailed(f"the relay did not start within {start_timeout} s: {self.log_tail()}")

    def _read_output(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            if self.origin is None and "Relay listening on " in line:
                self.origin = line.split("Relay listening on ", 1)[1].split()[0].rstrip("/")
                self._listening.set()
        self._listening.set()

    def log_tail(self) -> str:
        return "".join(self.output)

    def request(self, method: str, path: str, body: Optional[dict] = None, timeout: float = 60) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.origin + path, data=data, method=method,
                                     headers={"content-type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as e:
            raise RelayFailed(f"{method} {path}: HTTP {e.code} {e.read()[:500]!r}") from None

    def wait_warm(self, timeout: float = 180) -> None:
        """Until the sidecar says its default model is loaded (GET /api/gpu?wait=1, polled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.request("GET", "/api/gpu?wait=1", timeout=timeout)
            if status.get("model_loaded"):
                return
            if status.get("model_error"):
                raise RelayFailed(f"the model did not load: {status['model_error']}")
            time.sleep(0.1)
        raise RelayFailed(f"the sidecar's model did not load within {timeout} s")

    def sidecar_pid(self) -> Optional[int]:
        """The relay's child running ``-m sidecar`` (from /proc; Linux)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.pid and b"sidecar" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue
        return None

    def start_live(self, url: str, **options) -> str:
        job = self.request("POST", "/api/transcriptions", {"url": url, **options})
        return job.get("id") or job["job"]["id"]

    def events(self, job_id: str) -> "EventReader":
        return EventReader(self.origin, job_id)

    def close(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class EventReader:
    """A job's SSE, read on a thread: ``events`` is [(arrival time, event name, data)]."""

    def __init__(self, origin: str, job_id: str) -> None:
        host, port = origin.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        self.conn.request("GET", f"/api/transcriptions/{job_id}/events", headers={"accept": "text/event-stream"})
        res = self.conn.getresponse()
        if res.status != 200:
            raise RelayFailed(f"events of {job_id}: HTTP {res.status} {res.read()[:300]!r}")
        self._res = res
        self.events: List[Tuple[float, str, dict]] = []
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"sse-{job_id}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        name, data = None, []
        try:
            while True:
                raw = self._res.fp.readline()
                if not raw:
                    break
                now = time.monotonic()
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    self.events.append((now, name or "message", json.loads("\n".join(data))))
                    if name in ("done", "error", "cancelled"):
                        break
                    name, data = None, []
        except OSError as e:
            log.warning("SSE read ended: %s", e)
        finally:
            self.done.set()
            self.conn.close()

    def of(self, name: str) -> List[Tuple[float, dict]]:
        return [(t, d) for t, n, d in self.events if n == name]
