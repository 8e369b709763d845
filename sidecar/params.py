"""Validation of request params: wrong types and values fail with -32602 naming the param.

What a param may be is declared once, in the JSON Schema files of :mod:`sidecar.protocol`; this module
runs them (jsonschema) and turns the first problem into an :class:`InvalidParams` that names the param.
What a schema cannot say stays here: the language codes faster-whisper knows, base64 that decodes,
and that ``sample_rate``/``channels`` apply to raw PCM only.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Optional

from . import protocol
from .errors import InvalidParams

_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "object": "an object", "array": "an array"}
# Which of several problems of one param is told: its type before its value.
_RANK = {"type": 0, "minLength": 1, "pattern": 1, "maxLength": 2, "enum": 3, "minimum": 3, "maximum": 3}


def _languages() -> frozenset:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def _problem(error) -> str:
    """The words after the param's name for one jsonschema error."""
    value, keyword, schema = error.instance, error.validator, error.schema
    if keyword == "type":
        wanted = [t for t in ([schema["type"]] if isinstance(schema["type"], str) else schema["type"]) if t != "null"]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
        return f"must be {words}, got {type(value).__name__}"
    if keyword == "maxLength":
        return f"is too long ({len(value)} characters, at most {schema['maxLength']})"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "pattern":  # the schemas' patterns refuse blank strings and NUL characters
        return "must not contain NUL characters" if "\x00" in value else "must not be empty"
    if keyword in ("minimum", "maximum"):
        return f"must be between {schema['minimum']:g} and {schema['maximum']:g}, got {value}"
    if keyword == "enum":
        return f"must be one of {', '.join(str(v) for v in schema['enum'] if v is not None)}, got {value!r}"
    return error.message


def check(method: str, params: dict) -> dict:
    """Check ``params`` against ``method``'s params schema.

    Returns:
        the params that were given (null counts as not given).
    Raises:
        InvalidParams naming an unknown param first, then a missing one, then the first bad one in the
        order the schema lists them.
    """
    schema = protocol.params_schema(method)
    known = list(schema["properties"])
    for name in params:
        if name not in schema["properties"]:
            raise InvalidParams(name, f"is not a parameter of {method} (known: {', '.join(sorted(known))})")
    for name in schema.get("required", ()):
        if params.get(name) is None:
            raise InvalidParams(name, f"is required: {schema['properties'][name].get('description', 'no default')}")
    try:
        errors = _errors(method, params)
    except RecursionError:  # a value nested ~1000 deep: jsonschema's message repr()s it; its type is enough
        errors = _errors(method, {k: type(v)() if isinstance(v, (dict, list)) else v for k, v in params.items()})
    if errors:
        first = min(errors, key=lambda e: (known.index(e.path[0]), _RANK.get(e.validator, 9)))
        raise InvalidParams(first.path[0], _problem(first))
    return {name: value for name, value in params.items() if value is not None}


def _errors(method: str, params: dict) -> list:
    return [e for e in protocol.params_validator(method).iter_errors(params) if e.path]


def _language(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    language = value.strip().lower()
    if language == "auto":
        return None
    if language not in _languages():
        raise InvalidParams("language", f"is not a language code Whisper knows ({language!r}); "
                            "use e.g. 'en', 'de', 'ja', or omit it to detect")
    return language


@dataclass(frozen=True)
class TranscribeParams:
    path: str
    language: Optional[str] = None
    task: str = "transcribe"
    beam_size: int = 5
    vad_filter: Optional[bool] = None  # None: off sequential, on batched
    word_timestamps: bool = False
    initial_prompt: Optional[str] = None
    logprobs: bool = False
    batch_size: Optional[int] = None
    model: Optional[str] = None
    device: Optional[str] = None


@dataclass(frozen=True)
class StreamOptions:
    """stream_open's params, checked: a live stream's options."""

    language: Optional[str] = None
    task: str = "transcribe"
    model: Optional[str] = None
    device: Optional[str] = None
    initial_prompt: Optional[str] = None
    vad: bool = True
    format: str = "auto"
    sample_rate: int = 16000  # of raw PCM (Whisper's own rate by default)
    channels: int = 1
    beam_size: int = 5
    partials: bool = True
    silence_s: float = 0.5
    max_lag_s: float = 60.0
    word_timestamps: bool = False  # finals carry their words' times and probabilities


def transcribe_params(params: dict) -> TranscribeParams:
    """Check a transcribe request's params. Raises InvalidParams naming the first bad one."""
    given = check("transcribe", params)
    given["language"] = _language(given.get("language"))
    given["word_timestamps"] = bool(given.get("word_timestamps"))
    given["logprobs"] = bool(given.get("logprobs"))
    return TranscribeParams(**given)


def model_params(model: Any = None, device: Any = None) -> tuple:
    """Check load_model's params: (model name or None, device or None)."""
    given = check("load_model", {"model": model, "device": device})
    return given.get("model"), given.get("device")


def stream_open_params(params: dict) -> StreamOptions:
    """Check stream_open's params. Raises InvalidParams naming the first bad one."""
    given = check("stream_open", params)
    fmt = given.get("format", "auto")
    for name in ("sample_rate", "channels"):
        if fmt != "pcm_s16le" and name in given:
            raise InvalidParams(name, "applies only to format 'pcm_s16le' (containers say their own)")
    return StreamOptions(
        language=_language(given.get("language")), task=given.get("task", "transcribe"),
        model=given.get("model"), device=given.get("device"), initial_prompt=given.get("initial_prompt"),
        vad=given.get("vad", True), format=fmt, sample_rate=given.get("sample_rate", 16000),
        channels=given.get("channels", 1), beam_size=given.get("beam_size", 5),
        partials=given.get("partials", True), silence_s=given.get("silence_ms", 500) / 1000,
        max_lag_s=float(given.get("max_lag_s", 60.0)), word_timestamps=bool(given.get("word_timestamps")),
    )


def stream_id_param(value: Any) -> str:
    if value is None:
        raise InvalidParams("stream_id", "is required: the id stream_open answered")
    if not protocol.validator("common.json", "/$defs/stream_id").is_valid(value):
        raise InvalidParams("stream_id", "must be the string stream_open answered")
    return value


def stream_write_params(params: dict) -> tuple:
    """Check stream_write's params. Returns (stream_id, bytes or None, gap_s or None, reset)."""
    given = check("stream_write", params)
    stream_id = stream_id_param(given.get("stream_id"))
    raw = None
    if "data" in given:
        try:
            raw = base64.b64decode(given["data"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidParams("data", f"is not valid base64 ({e})") from None
    gap_s = given.get("gap_s")
    return stream_id, raw, None if gap_s is None else float(gap_s), bool(given.get("reset"))
