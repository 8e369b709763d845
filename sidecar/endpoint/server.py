"""The JSON-RPC 2.0 endpoint: reads newline-delimited requests, dispatches them with jsonrpcserver,
and answers each with what its handler returned: a value at once, a ``Future`` when it resolves
(long requests from the engine's job queue, ``gpu_status`` waiting for the device, ``stream_close``).

A malformed line is answered with an error and dropped; the read loop never dies.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any, BinaryIO, Callable, Optional

from jsonrpcserver import Success, dispatch_to_serializable

from .. import __version__
from ..config import Config
from ..engine import Engine
from ..engine.gpu import Gpu
from ..engine.report import QueueDepth
from ..errors import (
    INVALID_REQUEST,
    error_object,
    PARSE_ERROR,
    InvalidRequest,
    ShuttingDown,
    make_error_response,
)
from .jobs import NO_ID, JobQueue
from .framing import MAX_LINE_BYTES, discard_line, parse_line, valid_id, validate_envelope
from .. import protocol
from ..params import check, model_params, stream_id_param, stream_open_params, stream_write_params, transcribe_params
from .stdio import ProtocolWriter
from ..stream import StreamManager

log = logging.getLogger(__name__)




ABSENT = object()  # a param not given (null is given, and the schema refuses it)


def _named(**params) -> dict:
    """The params a method was given by name or by position, as the schema checks them."""
    return {name: value for name, value in params.items() if value is not ABSENT}


class Context:
    __slots__ = ("request_id",)

    def __init__(self, request_id: Any) -> None:
        self.request_id = request_id


class Server:
    def __init__(self, config: Config, writer: ProtocolWriter, gpu: Optional[Gpu] = None) -> None:
        """
        Args:
            gpu: the engine's way to the GPU; by default sidecar.cuda as the Config says.
        """
        self.config = config
        self.writer = writer
        self.started = time.monotonic()
        self.engine = Engine(config, self.notify, gpu=gpu)
        self.jobs = JobQueue(maxsize=config.queue_size, workers=config.num_workers)
        self.streams = StreamManager(self.engine, self.notify, max_streams=config.max_streams,
                                     context_s=config.live_context_s, decoders=config.live_decoders)
        self._stopping = threading.Event()
        # The protocol's methods (sidecar/protocol/methods/*.json), each answered by the handler of its
        # name: a schema without a handler fails here, at start, not at its first request.
        self.methods = {name: getattr(self, name) for name in protocol.methods()}

    # ---- output -------------------------------------------------------------------------------
    def notify(self, method: str, params: dict) -> None:
        self.writer.send({"jsonrpc": "2.0", "method": method, "params": params})

    def _respond(self, request_id: Any, result: Optional[dict], error: Optional[dict]) -> None:
        if error is not None:
            self.writer.send(make_error_response(request_id, error))
        else:
            self.writer.send({"jsonrpc": "2.0", "result": result, "id": request_id})

    # ---- methods ------------------------------------------------------------------------------
    def ping(self, ctx: Context):
        return Success({"pong": True, "uptime_s": round(time.monotonic() - self.started, 3)})

    def gpu_status(self, ctx: Context, recheck: Any = ABSENT, wait: Any = ABSENT):
        """The device report. ``wait`` (the default): answer once the device is decided, which the
        probe's time-out bounds; ``wait: false``: what is known now. ``recheck``: run the GPU check
        anew (one probe at a time: concurrent rechecks share it). Waiting is a future the engine
        resolves, so the read loop goes on."""
        given = check("gpu_status", _named(recheck=recheck, wait=wait))  # named here: positional params too
        recheck, wait = given.get("recheck", False), given.get("wait", True)
        if not recheck and (not wait or self.engine.decided()):
            return Success(self._gpu_report())
        decided = self.engine.recheck() if recheck else self.engine.settled()
        return Success(_then(decided, lambda _: self._gpu_report()))

    def list_models(self, ctx: Context, **params):
        """The models in the cache folder and the known names, once the device is decided."""
        check("list_models", params)
        return Success(_then(self.engine.settled(), lambda _: self.engine.list_models().to_dict()))

    def _gpu_report(self) -> dict:
        depth = self.jobs.depth()
        queue = QueueDepth(depth["queued"], depth["running"], self.streams.open_count())
        return dataclasses.replace(self.engine.gpu_report(), queue=queue).to_dict()

    def _submit(self, ctx: Context, run) -> Any:
        if self._stopping.is_set():
            raise ShuttingDown("The sidecar is shutting down")
        request_id = NO_ID if ctx.request_id is NO_ID else ctx.request_id
        if request_id is not NO_ID and self.jobs.has(request_id):
            raise InvalidRequest(f"Request id {request_id!r} is already in use by a running request",
                                 id=request_id)
        return Success(self.jobs.submit(request_id, run).future)

    def transcribe(self, ctx: Context, **params):
        p = transcribe_params(params)
        rid = None if ctx.request_id is NO_ID else ctx.request_id
        return self._submit(ctx, lambda job: self.engine.transcribe(rid, p, job.cancel, job.enqueued_at).to_dict())

    def load_model(self, ctx: Context, model: Any = None, device: Any = None):
        name, device_name = model_params(model, device)
        rid = None if ctx.request_id is NO_ID else ctx.request_id

        return self._submit(ctx, lambda job: self.engine.model_for(rid, name, device_name).to_dict())

    def cancel(self, ctx: Context, id: Any = ABSENT):  # noqa: A002 - the protocol's name
        return Success({"cancelled": self.jobs.cancel(check("cancel", _named(id=id))["id"])})

    def stream_open(self, ctx: Context, **params):
        if self._stopping.is_set():
            raise ShuttingDown("The sidecar is shutting down")
        return Success(self.streams.open(stream_open_params(params)))

    def stream_write(self, ctx: Context, **params):
        return Success(self.streams.write(*stream_write_params(params)))

    def stream_close(self, ctx: Context, stream_id: Any = None):
        return Success(self.streams.close(stream_id_param(stream_id)))

    def stream_abort(self, ctx: Context, stream_id: Any = None):
        return Success(self.streams.abort(stream_id_param(stream_id)))

    def shutdown(self, ctx: Context):
        self._stopping.set()
        return Success({"shutting_down": True})

    # ---- the loop -----------------------------------------------------------------------------
    def handle_line(self, raw: bytes) -> None:
        line = raw.strip()
        if not line:
            return
        try:
            message = parse_line(line)
        except ValueError as e:
            self.writer.send(make_error_response(None, {"code": PARSE_ERROR, "message": "Parse error",
                                                         "data": str(e)}))
            return
        if isinstance(message, list):
            self.writer.send(make_error_response(None, {
                "code": INVALID_REQUEST, "message": "Invalid Request",
                "data": "batch requests are not supported: send one request per line"}))
            return
        request_id = message.get("id", NO_ID) if isinstance(message, dict) else NO_ID
        try:
            validate_envelope(message)
        except ValueError as e:
            # Answer with the request's own id whenever it can be read, so the client's call ends now.
            readable = request_id is not NO_ID and valid_id(request_id)
            self.writer.send(make_error_response(request_id if readable else None, {
                "code": INVALID_REQUEST, "message": "Invalid Request", "data": str(e)}))
            return
        response = dispatch_to_serializable(
            "",
            self.methods,
            context=Context(request_id),
            deserializer=lambda _: message,
            validator=lambda request: request,
        )
        result = response.get("result") if isinstance(response, dict) else None
        if response is None:
            return
        if isinstance(result, Future):
            self._answer_later(request_id, result)
            return
        self.writer.send(response)

    def _answer_later(self, request_id: Any, future: Future) -> None:
        """A handler that returned a future is answered when it resolves (a notification never is)."""
        def done(f: Future) -> None:
            if request_id is NO_ID:
                return
            error = f.exception()
            self._respond(request_id, None if error else f.result(), error_object(error) if error else None)

        future.add_done_callback(done)

    def serve(self, stdin: BinaryIO) -> int:
        self.notify("status", {"request_id": None, "stage": "starting", "message": "Starting whisper sidecar...",
                               "progress": None, "device": None})
        self.engine.start()
        if self.config.preload:  # the first job, so the model loads on a worker thread
            self.jobs.submit(NO_ID, lambda job: self.engine.preload())
        self.notify("ready", {
            "pid": os.getpid(),
            "version": __version__,
            "python": platform.python_version(),
            "platform": f"{sys.platform}-{platform.machine()}",
        })
        if self.config.idle_unload_s:
            threading.Thread(target=self._idle_loop, name="idle-unload", daemon=True).start()
        while not self._stopping.is_set():
            raw = stdin.readline(MAX_LINE_BYTES + 1)
            if not raw:
                log.info("stdin closed: finishing queued work, then exiting")
                self._stopping.set()
                self.jobs.wait_idle()
                break
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                size = len(raw) + discard_line(stdin)
                self.writer.send(make_error_response(None, {
                    "code": INVALID_REQUEST, "message": "Invalid Request",
                    "data": f"request line too long ({size} bytes; the limit is {MAX_LINE_BYTES})"}))
                continue
            try:
                self.handle_line(raw)
            except Exception as e:  # the loop never dies
                log.exception("unexpected error handling a line")
                self.writer.send(make_error_response(None, {"code": -32603, "message": f"Internal error: {e}"}))
            if self.writer.closed:
                log.info("stdout closed: exiting")
                break
        cancelled = self.jobs.cancel_all() + self.streams.stop()
        if cancelled:
            log.info("cancelled %d unfinished request(s)", cancelled)
        return 0

    def _idle_loop(self) -> None:
        period = max(1.0, min(30.0, self.config.idle_unload_s / 4))
        while not self._stopping.wait(period):
            if self.jobs.idle():
                self.engine.idle_unload()


def _then(future: Future, fn: Callable[[Any], Any]) -> Future:
    """A future of ``fn(result)``, resolved when ``future`` is (an exception passes through)."""
    out: Future = Future()

    def done(f: Future) -> None:
        try:
            out.set_result(fn(f.result()))
        except Exception as e:  # answer anyway
            log.exception("a deferred answer failed")
            out.set_exception(e)

    future.add_done_callback(done)
    return out

