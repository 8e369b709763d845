"""A bounded FIFO of long requests (transcribe, load_model) run by worker threads.

Each job has a ``concurrent.futures.Future`` that resolves exactly once: by its worker, by ``cancel``
while it is still queued, or by ``cancel_all`` at shutdown — whichever comes first. Whoever submitted
the job (the endpoint) answers the request from that future.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import Cancelled, QueueFull, SidecarError

log = logging.getLogger(__name__)

_NO_ID = object()


@dataclass(eq=False)
class Job:
    request_id: Any  # the JSON-RPC id, or _NO_ID for a notification
    run: Callable[["Job"], dict]
    cancel: threading.Event = field(default_factory=threading.Event)
    enqueued_at: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)
    seq: int = 0

    @property
    def key(self) -> Any:
        return ("notification", self.seq) if self.request_id is _NO_ID else _id_key(self.request_id)


def _id_key(request_id: Any) -> Any:
    # 1 and "1" are different ids; 1 and 1.0 are the same number in JSON.
    return (type(request_id).__name__ if not isinstance(request_id, (int, float)) else "num", request_id)


class JobQueue:
    def __init__(self, maxsize: int = 64, workers: int = 1) -> None:
        self._maxsize = maxsize
        self._queue: "deque[Job]" = deque()
        self._active: dict = {}  # key -> Job (queued or running)
        self._running = 0
        self._cond = threading.Condition()
        self._seq = itertools.count(1)
        self._closed = False
        for i in range(max(1, workers)):
            threading.Thread(target=self._work, name=f"worker-{i}", daemon=True).start()

    def has(self, request_id: Any) -> bool:
        with self._cond:
            return _id_key(request_id) in self._active

    def submit(self, request_id: Any, run: Callable[[Job], dict]) -> Job:
        job = Job(request_id=request_id, run=run, seq=next(self._seq))
        with self._cond:
            if len(self._queue) >= self._maxsize:
                raise QueueFull(
                    f"The queue is full ({self._maxsize} requests waiting); retry later",
                    queued=len(self._queue),
                )
            self._queue.append(job)
            self._active[job.key] = job
            self._cond.notify()
        return job

    def cancel(self, request_id: Any) -> bool:
        with self._cond:
            job = self._active.get(_id_key(request_id))
            if job is None:
                return False
            job.cancel.set()
            if job in self._queue:
                self._queue.remove(job)
                self._finish(job, None, Cancelled("Request cancelled before it started"))
        return True

    def cancel_all(self, reason: str = "Request cancelled: the sidecar is shutting down") -> int:
        with self._cond:
            jobs = list(self._active.values())
            self._queue.clear()
            self._closed = True
            for job in jobs:
                job.cancel.set()
                self._finish(job, None, Cancelled(reason))
            self._cond.notify_all()
        return len(jobs)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._running

    def depth(self) -> dict:
        with self._cond:
            return {"queued": len(self._queue), "running": self._running}

    # ---- internals ----------------------------------------------------------------------------
    def _finish(self, job: Job, result: Optional[dict], error: Optional[BaseException]) -> None:
        """Resolve ``job``'s future once. Caller holds the condition, so the answer is out before
        anyone sees the job gone."""
        if job.future.done():
            return
        self._active.pop(job.key, None)
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                job = self._queue.popleft()
                self._running += 1
            result, error = None, None
            try:
                result = job.run(job)
            except SidecarError as e:
                error = e
            except Exception as e:  # a bug or a library failure: answer, keep serving
                log.exception("request %r failed", job.request_id)
                error = e
            with self._cond:
                self._running -= 1
                self._finish(job, result, error)
                self._cond.notify_all()


NO_ID = _NO_ID
