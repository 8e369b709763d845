"""Markdown tables for the terminal and for bench/results/latest.md."""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def machine_lines(machine: dict) -> str:
    gpu = machine.get("gpu") or {}
    gpu_text = ", ".join(gpu.get("names") or []) or gpu.get("message") or "–"
    return "\n".join([
        f"- CPU: {machine.get('cpu_model')} — {machine.get('nproc')} cores (`nproc`), "
        f"{machine.get('ram_gib')} GiB RAM, {machine.get('platform')}",
        f"- Python {machine.get('python')}, faster-whisper {machine.get('faster_whisper')}, "
        f"ctranslate2 {machine.get('ctranslate2')}",
        f"- GPU: {gpu_text}",
        f"- load average at start / end: {machine.get('load_average_at_start')} / "
        f"{machine.get('load_average_at_end')}",
    ] + ([f"- every sidecar started with: " + ", ".join(f"`{k}={v}`" for k, v in machine["sidecar_env"].items())]
         if machine.get("sidecar_env") else []))


def rotated(items: Sequence, shift: int) -> list:
    """``items`` starting at ``shift``, so no side always runs first."""
    items = list(items)
    if not items:
        return items
    shift %= len(items)
    return items[shift:] + items[:shift]
