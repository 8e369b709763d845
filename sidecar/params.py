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
