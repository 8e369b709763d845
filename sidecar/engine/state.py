"""The device state: the decision, behind one lock, and the one setup (GPU probe) that runs at a time.

A setup asked for while one runs shares it (two concurrent ``gpu_status {recheck: true}`` start one
probe); a recheck asked for while the first setup runs starts after it. Each setup's outcome is a
``concurrent.futures.Future`` of the decision.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, Optional

from .device import DeviceDecision

Setup = Callable[[bool], DeviceDecision]  # recheck -> decision; never raises
Decided = Callable[[DeviceDecision, bool], None]  # (decision, recheck), once it is the current one


class DeviceState:
    def __init__(self, setup: Setup, on_decided: Decided) -> None:
        self._setup = setup
        self._on_decided = on_decided
        self._lock = threading.Lock()
        self._decision: Optional[DeviceDecision] = None
        self._decided = threading.Event()
        self._running: Optional[Future] = None
        self._running_recheck = False

    def start(self) -> Future:
        """Decide the device on a thread of its own (unless a setup runs already)."""
        return self._begin(recheck=False)

    def recheck(self) -> Future:
        """Decide anew, ignoring the cached GPU verdict."""
        return self._begin(recheck=True)

    def settled(self) -> Future:
        """A future of the decision: resolved now when decided, else when the running setup ends."""
        with self._lock:
            if self._running is not None:
                return self._running
            if self._decision is not None:
                done: Future = Future()
                done.set_result(self._decision)
                return done
        return self.start()

    def decided(self) -> bool:
        return self._decided.is_set()

    def wait(self, timeout: Optional[float] = None) -> DeviceDecision:
        """The decision, once made; TimeoutError past ``timeout``."""
        if not self._decided.wait(timeout):
            raise TimeoutError("device setup is still running")
        assert self._decision is not None
        return self._decision

    def current(self, wait_s: float = 0.0) -> Optional[DeviceDecision]:
        """The decision after up to ``wait_s`` s, or None while a setup runs."""
        return self._decision if self._decided.wait(wait_s) else None

    def latest(self) -> Optional[DeviceDecision]:
        """The last decision made, even while a new setup runs (for status lines)."""
        return self._decision

    def replace(self, change: Callable[[Optional[DeviceDecision]], DeviceDecision]) -> DeviceDecision:
        """Swap the decision for ``change(old)`` under the lock (the CPU fallback after a CUDA error)."""
        with self._lock:
            self._decision = change(self._decision)
            return self._decision

    def _begin(self, recheck: bool) -> Future:
        with self._lock:
            running = self._running
            if running is not None and (self._running_recheck or not recheck):
                return running
            future: Future = Future()
            self._running, self._running_recheck = future, recheck
            self._decided.clear()
        threading.Thread(target=self._run, args=(future, recheck, running),
                         name="device-setup", daemon=True).start()
        return future

    def _run(self, future: Future, recheck: bool, after: Optional[Future]) -> None:
        if after is not None:
            after.exception()  # wait for the setup before; its outcome is replaced by ours
        decision = self._setup(recheck)
        with self._lock:
            self._decision = decision
            if self._running is future:
                self._running = None
                self._decided.set()
        self._on_decided(decision, recheck)
        future.set_result(decision)
