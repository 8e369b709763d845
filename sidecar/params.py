"""Validation of request params: wrong types and values fail with -32602 naming the param."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .errors import InvalidParams

TASKS = ("transcribe", "translate")
DEVICES = ("auto", "cuda", "cpu")


def _languages() -> frozenset:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def _str(name: str, value: Any, *, allow_empty: bool = False, max_len: int = 4096) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParams(name, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidParams(name, "must not be empty")
    if len(value) > max_len:
        raise InvalidParams(name, f"is too long ({len(value)} characters, at most {max_len})")
    if "\x00" in value:
        raise InvalidParams(name, "must not contain NUL characters")
    return value


def _bool(name: str, value: Any) -> Optional[bool]:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidParams(name, f"must be true or false, got {type(value).__name__}")
    return value


def _int(name: str, value: Any, lo: int, hi: int) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(name, f"must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidParams(name, f"must be between {lo} and {hi}, got {value}")
    return value


@dataclass(frozen=True)
class TranscribeParams:
    path: str
    language: Optional[str] = None
    task: str = "transcribe"
    beam_size: int = 5
    vad_filter: Optional[bool] = None  # None: off sequential, on batched
    word_timestamps: bool = False
    initial_prompt: Optional[str] = None
    batch_size: Optional[int] = None
    model: Optional[str] = None
    device: Optional[str] = None


def transcribe_params(params: dict) -> TranscribeParams:
    """Check a transcribe request's params. Raises InvalidParams naming the first bad one."""
    known = set(TranscribeParams.__dataclass_fields__)
    for name in params:
        if name not in known:
            raise InvalidParams(name, "is not a parameter of transcribe (known: " + ", ".join(sorted(known)) + ")")
    return _transcribe_params(**params)


def _transcribe_params(
    path: Any = None,
    language: Any = None,
    task: Any = None,
    beam_size: Any = None,
    vad_filter: Any = None,
    word_timestamps: Any = None,
    initial_prompt: Any = None,
    batch_size: Any = None,
    model: Any = None,
    device: Any = None,
) -> TranscribeParams:
    if path is None:
        raise InvalidParams("path", "is required: the media file to transcribe")
    path = _str("path", path)
    language = _str("language", language, max_len=16)
    if language is not None:
        language = language.strip().lower()
        if language == "auto":
            language = None
        elif language not in _languages():
            raise InvalidParams("language", f"is not a language code Whisper knows ({language!r}); "
                                "use e.g. 'en', 'de', 'ja', or omit it to detect")
    task = _str("task", task) or "transcribe"
    if task not in TASKS:
        raise InvalidParams("task", f"must be 'transcribe' or 'translate', got {task!r}")
    device = _str("device", device)
    if device is not None and device not in DEVICES:
        raise InvalidParams("device", f"must be one of {', '.join(DEVICES)}, got {device!r}")
    return TranscribeParams(
        path=path,
        language=language,
        task=task,
        beam_size=_int("beam_size", beam_size, 1, 20) or 5,
        vad_filter=_bool("vad_filter", vad_filter),
        word_timestamps=bool(_bool("word_timestamps", word_timestamps)),
        initial_prompt=_str("initial_prompt", initial_prompt, allow_empty=True),
        batch_size=_int("batch_size", batch_size, 1, 64),
        model=_str("model", model, max_len=1024),
        device=device,
    )


def model_params(model: Any = None, device: Any = None) -> tuple:
    """Check load_model's params: (model name or None, device or None)."""
    model = _str("model", model, max_len=1024)
    device = _str("device", device)
    if device is not None and device not in DEVICES:
        raise InvalidParams("device", f"must be one of {', '.join(DEVICES)}, got {device!r}")
    return model, device


STREAM_FORMATS = ("auto", "pcm_s16le", "mpegts", "mp3", "aac", "adts", "ogg", "wav", "flac", "webm", "matroska", "mp4")


def _number(name: str, value: Any, lo: float, hi: float) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams(name, f"must be a number, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidParams(name, f"must be between {lo:g} and {hi:g}, got {value}")
    return float(value)


def _only(method: str, params: dict, known: tuple) -> None:
    for name in params:
        if name not in known:
            raise InvalidParams(name, f"is not a parameter of {method} (known: {', '.join(sorted(known))})")


def stream_open_params(params: dict):
    """Check stream_open's params. Returns sidecar.stream.StreamOptions."""
    from .stream.session import StreamOptions

    _only("stream_open", params, ("language", "task", "model", "device", "initial_prompt", "vad", "format",
                                  "sample_rate", "channels", "beam_size", "partials", "silence_ms",
                                  "max_lag_s"))
    base = _transcribe_params(path="-", language=params.get("language"), task=params.get("task"),
                              model=params.get("model"), device=params.get("device"),
                              initial_prompt=params.get("initial_prompt"),
                              beam_size=params.get("beam_size"))
    fmt = _str("format", params.get("format")) or "auto"
    if fmt not in STREAM_FORMATS:
        raise InvalidParams("format", f"must be one of {', '.join(STREAM_FORMATS)}, got {fmt!r}")
    rate = _int("sample_rate", params.get("sample_rate"), 8000, 48000)
    channels = _int("channels", params.get("channels"), 1, 2)
    if fmt != "pcm_s16le" and (rate is not None or channels is not None):
        raise InvalidParams("sample_rate" if rate is not None else "channels",
                            "applies only to format 'pcm_s16le' (containers say their own)")
    silence_ms = _int("silence_ms", params.get("silence_ms"), 100, 5000)
    max_lag_s = _number("max_lag_s", params.get("max_lag_s"), 30, 3600)
    vad = _bool("vad", params.get("vad"))
    partials = _bool("partials", params.get("partials"))
    return StreamOptions(
        language=base.language, task=base.task, model=base.model, device=base.device,
        initial_prompt=base.initial_prompt, vad=True if vad is None else vad, format=fmt,
        sample_rate=rate or 16000, channels=channels or 1, beam_size=base.beam_size,
        partials=True if partials is None else partials,
        silence_s=(silence_ms or 500) / 1000, max_lag_s=max_lag_s or 60.0,
    )


def stream_id_param(value: Any) -> str:
    if value is None:
        raise InvalidParams("stream_id", "is required: the id stream_open answered")
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidParams("stream_id", "must be the string stream_open answered")
    return value


def stream_write_params(params: dict) -> tuple:
    """Check stream_write's params. Returns (stream_id, bytes or None, gap_s or None, reset)."""
    import base64
    import binascii

    _only("stream_write", params, ("stream_id", "data", "gap_s", "reset"))
    stream_id = stream_id_param(params.get("stream_id"))
    data = params.get("data")
    raw = None
    if data is not None:
        if not isinstance(data, str):
            raise InvalidParams("data", f"must be a base64 string, got {type(data).__name__}")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidParams("data", f"is not valid base64 ({e})") from None
    gap_s = _number("gap_s", params.get("gap_s"), 0, 86400)
    reset = bool(_bool("reset", params.get("reset")))
    return stream_id, raw, gap_s, reset
