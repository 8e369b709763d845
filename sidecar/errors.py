"""JSON-RPC error codes and the sidecar's application errors.

The codes are declared once, in ``sidecar/protocol/errors.json``, and read from it here: ``codes`` holds
the JSON-RPC 2.0 values (-32800 is "request cancelled" as in LSP), ``kinds`` each application error's
``data.kind`` with its code (in -32000..-32099). A class names its kind; its code is the kind's, so a
class whose kind the file does not declare fails at import.
"""

from __future__ import annotations

from typing import Any, Optional

from jsonrpcserver.exceptions import JsonRpcError
from jsonrpcserver.sentinels import NODATA

from . import protocol

_CODES = protocol.errors()["codes"]
_KINDS = protocol.errors()["kinds"]

PARSE_ERROR = _CODES["parse_error"]
INVALID_REQUEST = _CODES["invalid_request"]
METHOD_NOT_FOUND = _CODES["method_not_found"]
INVALID_PARAMS = _CODES["invalid_params"]
INTERNAL_ERROR = _CODES["internal_error"]
REQUEST_CANCELLED = _CODES["request_cancelled"]


class SidecarError(JsonRpcError):
    """An error a request answers with. Subclasses name their ``kind``; the ``code`` is errors.json's."""

    kind = "error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = _KINDS[cls.kind]["code"]

    def __init__(self, message: str, **data: Any) -> None:
        payload = {"kind": self.kind, **data}
        super().__init__(self.code, message, payload)

    def to_error(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data}


class InvalidParams(SidecarError):
    kind = "invalid_params"

    def __init__(self, param: str, problem: str, **data: Any) -> None:
        super().__init__(f"Invalid params: '{param}' {problem}", param=param, **data)


class InvalidRequest(SidecarError):
    kind = "invalid_request"


class Cancelled(SidecarError):
    kind = "cancelled"


class FileNotFound(SidecarError):
    kind = "file_not_found"


class NotAFile(SidecarError):
    kind = "not_a_file"


class NotAudio(SidecarError):
    kind = "not_audio"


class ModelUnavailable(SidecarError):
    kind = "model_unavailable"


class QueueFull(SidecarError):
    kind = "queue_full"


class CudaError(SidecarError):
    kind = "cuda_error"


class ShuttingDown(SidecarError):
    kind = "shutting_down"


class ModelError(SidecarError):
    kind = "model_error"


class UnknownStream(SidecarError):
    kind = "unknown_stream"


class AudioTooLong(SidecarError):
    """The audio is longer than the operator's MAX_AUDIO_S; data.duration_s and data.max_s say by how much."""

    kind = "audio_too_long"


class CapacityExceeded(SidecarError):
    """A new live stream would take the stream worker past real time; data names the measured figures
    (open_streams, load, projected_load, decode_s_per_audio_s, limit, retry_after_s)."""

    kind = "capacity"


def internal_error(exc: BaseException, kind: str = "internal") -> dict:
    """The error object for an exception nobody expected."""
    return {
        "code": INTERNAL_ERROR,
        "message": f"Internal error: {type(exc).__name__}: {exc}",
        "data": {"kind": kind},
    }


def error_object(exc: BaseException) -> dict:
    if isinstance(exc, SidecarError):
        return exc.to_error()
    if isinstance(exc, JsonRpcError):
        out = {"code": exc.code, "message": exc.message}
        if exc.data is not NODATA:
            out["data"] = exc.data
        return out
    return internal_error(exc)


def make_error_response(request_id: Optional[Any], error: dict) -> dict:
    return {"jsonrpc": "2.0", "error": error, "id": request_id}
