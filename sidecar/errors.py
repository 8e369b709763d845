"""JSON-RPC error codes and the sidecar's application errors.

Standard codes are the JSON-RPC 2.0 values; -32800 is "request cancelled" as in LSP. Application errors
live in -32000..-32099 and carry ``data.kind`` so a client can branch without parsing messages.
"""

from __future__ import annotations

from typing import Any, Optional

from jsonrpcserver.exceptions import JsonRpcError
from jsonrpcserver.sentinels import NODATA

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800


class SidecarError(JsonRpcError):
    """An error a request answers with. Subclasses fix ``code`` and ``kind``."""

    code = -32000
    kind = "error"

    def __init__(self, message: str, **data: Any) -> None:
        payload = {"kind": self.kind, **data}
        super().__init__(self.code, message, payload)

    def to_error(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data}


class InvalidParams(SidecarError):
    code = INVALID_PARAMS
    kind = "invalid_params"

    def __init__(self, param: str, problem: str, **data: Any) -> None:
        super().__init__(f"Invalid params: '{param}' {problem}", param=param, **data)


class InvalidRequest(SidecarError):
    code = INVALID_REQUEST
    kind = "invalid_request"


class Cancelled(SidecarError):
    code = REQUEST_CANCELLED
    kind = "cancelled"


class FileNotFound(SidecarError):
    code = -32001
    kind = "file_not_found"


class NotAFile(SidecarError):
    code = -32002
    kind = "not_a_file"


class NotAudio(SidecarError):
    code = -32003
    kind = "not_audio"


class ModelUnavailable(SidecarError):
    code = -32004
    kind = "model_unavailable"


class QueueFull(SidecarError):
    code = -32005
    kind = "queue_full"


class CudaError(SidecarError):
    code = -32006
    kind = "cuda_error"


class ShuttingDown(SidecarError):
    code = -32007
    kind = "shutting_down"


class ModelError(SidecarError):
    code = -32008
    kind = "model_error"


class UnknownStream(SidecarError):
    code = -32009
    kind = "unknown_stream"


class AudioTooLong(SidecarError):
    """The audio is longer than the operator's MAX_AUDIO_S; data.duration_s and data.max_s say by how much."""

    code = -32010
    kind = "audio_too_long"


class CapacityExceeded(SidecarError):
    """A new live stream would take the stream worker past real time; data names the measured figures
    (open_streams, load, projected_load, decode_s_per_audio_s, limit, retry_after_s)."""

    code = -32011
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
