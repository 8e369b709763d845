"""A small timing client for the sidecar: spawns ``python -m sidecar``, stamps every message it reads.

Requests may be sent from several threads at once (the concurrency section); each call waits for its
own response.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Optional

from .fixtures import ROOT

# Settings both sides of every comparison share, so the sidecar runs what the in-process code runs.
# Sequential on both sides (the sidecar batches long files by default), so the figures compare like for like.
BASE_ENV = {"WHISPER_DEVICE": "cpu", "WHISPER_MODEL": "base", "WHISPER_COMPUTE_TYPE": "int8",
            "WHISPER_BATCH_THRESHOLD_S": "0"}

# CTranslate2's CPU wheels use GNU OpenMP. When the model is loaded on a thread that then ends (the
# sidecar's preload thread) and used from another (its worker), OpenMP's active spin-waiting makes each
# transcription several times slower on a busy machine; the passive wait policy avoids it. The sections
# measure the sidecar as it is and, beside it, with this setting, to show the difference.
OMP_PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}


class SidecarFailed(RuntimeError):
    pass


class Sidecar:
    def __init__(self, env: Optional[dict] = None, python: str = sys.executable) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **BASE_ENV, **(env or {})}
        self.spawned_at = time.monotonic()
        self.proc = subprocess.Popen(
            [python, "-m", "sidecar"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=full_env, cwd=str(ROOT),
        )
        self.pid = self.proc.pid
        self.notifications: list = []  # (monotonic time, method, params)
        self.stderr_tail: deque = deque(maxlen=40)
        self._pending: dict = {}
        self._listeners: list = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # ---- reading ------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            now = time.monotonic()
            msg = json.loads(line)
            if "method" in msg:
                with self._lock:
                    self.notifications.append((now, msg["method"], msg.get("params")))
                    listeners = list(self._listeners)
                for listener in listeners:
                    listener(now, msg["method"], msg.get("params"))
                continue
            with self._lock:
                future = self._pending.pop(msg.get("id"), None)
            if future is not None:
                future.set_result((now, msg))
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(SidecarFailed(f"sidecar exited; stderr: {self.stderr()}"))

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_tail.append(line.decode("utf-8", "replace"))

    def stderr(self) -> str:
        return "".join(self.stderr_tail)

    def on_notification(self, listener: Callable[[float, str, Any], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def wait_notification(self, predicate: Callable[[str, Any], bool], timeout: float = 120) -> float:
        """The time of the first notification (already read or still to come) that matches."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for t, method, params in self.notifications:
                    if predicate(method, params):
                        return t
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)
        raise SidecarFailed(f"no matching notification within {timeout} s; stderr: {self.stderr()}")

    # ---- requests -----------------------------------------------------------------------------
    def send(self, method: str, params: Optional[dict] = None) -> "tuple[Any, Future]":
        request_id = next(self._ids)
        future: Future = Future()
        with self._lock:
            self._pending[request_id] = future
        msg = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            msg["params"] = params
        with self._write_lock:
            self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
            self.proc.stdin.flush()
        return request_id, future

    def call(self, method: str, params: Optional[dict] = None, timeout: float = 900) -> "tuple[dict, float]":
        """(result, seconds from writing the request to reading its response)."""
        t0 = time.monotonic()
        _, future = self.send(method, params)
        t1, msg = future.result(timeout)
        if "error" in msg:
            raise SidecarFailed(f"{method} failed: {msg['error']}")
        return msg["result"], t1 - t0

    def wait_warm(self, timeout: float = 180, poll_s: float = 0.025) -> float:
        """Poll ``gpu_status`` until the default model is loaded; the time it first said so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            _, future = self.send("gpu_status")
            t1, msg = future.result(timeout)
            result = msg.get("result") or {}
            if result.get("model_loaded"):
                return t1
            if result.get("model_error"):
                raise SidecarFailed(f"the model did not load: {result['model_error']}")
            time.sleep(max(0.0, poll_s - (time.monotonic() - t0)))
        raise SidecarFailed(f"model not loaded within {timeout} s; stderr: {self.stderr()}")

    def close(self, timeout: float = 60) -> int:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> "Sidecar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
