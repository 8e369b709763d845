"""Framing: one JSON-RPC message per line on stdin, parsed and its envelope checked.

Nothing here dispatches; ``server.py`` does, through jsonrpcserver.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import orjson

MAX_LINE_BYTES = 4 * 1024 * 1024  # requests are small; a longer line is refused, not buffered forever


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_line(line: bytes) -> Any:
    """orjson first; valid JSON it refuses (numbers beyond the double range) goes through the stdlib,
    so such a request is still answered with its own id."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as first:
        try:
            # Decode strictly: json.loads(bytes) would let UTF-8-encoded surrogates through.
            message = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
            if isinstance(message, dict):  # what a reply echoes must be valid UTF-8 (no lone surrogates)
                orjson.dumps([message.get("id"), message.get("method")])
            return message
        except (ValueError, TypeError, RecursionError, orjson.JSONEncodeError):
            raise ValueError(str(first)) from None


_ID_TYPES = (str, int, float, type(None))


def valid_id(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, _ID_TYPES)


_MEMBERS = {"jsonrpc", "method", "params", "id"}


def validate_envelope(request: Any) -> Any:
    """The JSON-RPC 2.0 request envelope, checked without recursing into params.

    jsonrpcserver's default jsonschema check recurses through the whole message and fails on a
    request nested ~1000 deep, which then goes unanswered by id. Params are the methods' business.
    """
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    extra = set(request) - _MEMBERS
    if extra:
        raise ValueError(f"unknown members {sorted(extra)!r}")
    if request.get("jsonrpc") != "2.0":
        raise ValueError('"jsonrpc" must be "2.0"')
    if not isinstance(request.get("method"), str):
        raise ValueError('"method" must be a string')
    if "params" in request and not isinstance(request["params"], (dict, list)):
        raise ValueError('"params" must be an object or an array')
    if "id" in request and (isinstance(request["id"], bool) or not isinstance(request["id"], _ID_TYPES)):
        raise ValueError('"id" must be a string, a number or null')
    return request


def discard_line(stdin: BinaryIO) -> int:
    dropped = 0
    while True:
        chunk = stdin.readline(1 << 20)
        dropped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return dropped
