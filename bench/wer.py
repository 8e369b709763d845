"""Normalized word error rate: lower case, no punctuation, single digits spelled out."""

from __future__ import annotations

import re

_DIGITS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
           "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def words(text: str) -> list:
    text = text.lower().replace("o'clock", "oclock")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return [_DIGITS.get(w, w) for w in text.split()]


def wer(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length (0.0 is perfect; may exceed 1.0)."""
    r, h = words(reference), words(hypothesis)
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))
