"""Transcript formats for the command line: txt, srt, vtt, json."""

from __future__ import annotations

import orjson


def _timestamp(seconds: float, sep: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_txt(result: dict) -> str:
    return result["text"].strip() + "\n"


def to_srt(result: dict) -> str:
    blocks = []
    for i, seg in enumerate(result["segments"], 1):
        blocks.append(f"{i}\n{_timestamp(seg['start'], ',')} --> {_timestamp(seg['end'], ',')}\n"
                      f"{seg['text'].strip()}\n")
    return "\n".join(blocks)


def to_vtt(result: dict) -> str:
    lines = ["WEBVTT", ""]
    for seg in result["segments"]:
        lines += [f"{_timestamp(seg['start'], '.')} --> {_timestamp(seg['end'], '.')}", seg["text"].strip(), ""]
    return "\n".join(lines)


def to_json(result: dict) -> str:
    return orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n"


FORMATS = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json}
