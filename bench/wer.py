"""Normalized word error rate, the one implementation for the benchmark, the tests and the soak.

`bench/wer.js` is a line-by-line port for Node; `tests/repo/test_wer_parity.py` runs both on the same
inputs and fails when they disagree. Change both together.

Normalization: lower case; a typographic apostrophe (U+2019) becomes "'"; "o'clock" becomes "oclock";
everything but ASCII letters, digits, apostrophes and spaces becomes a space (so "don't" stays one
word and "state-of-the-art" becomes four); apostrophes at either end of a word are dropped (quotes);
the numbers 0 to 10 written in digits are spelled out ("5" -> "five").
"""

from __future__ import annotations

import re

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
            "7": "seven", "8": "eight", "9": "nine", "10": "ten"}
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def words(text: str) -> list:
    """The normalized words of `text`, in order."""
    text = text.lower().replace("\u2019", "'").replace("o'clock", "oclock")
    out = []
    for word in _NOT_WORD.sub(" ", text).split(" "):
        word = word.strip("'")
        if word:
            out.append(_NUMBERS.get(word, word))
    return out


def wer(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length (0.0 is perfect; may exceed 1.0).

    An empty reference counts as one word, so the result is the hypothesis's word count.
    """
    r, h = words(reference), words(hypothesis)
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


def word_recall(hypothesis: str, reference: str) -> float:
    """Share of the reference's words (with repeats) found anywhere in the hypothesis, 0.0..1.0.

    A forgiving check for short clips: order and extra words do not count. 1.0 for an empty reference.
    """
    got = set(words(hypothesis))
    want = words(reference)
    if not want:
        return 1.0
    return sum(1 for w in want if w in got) / len(want)


if __name__ == "__main__":
    # `python -m bench.wer` reads JSON [[reference, hypothesis], ...] on stdin and prints, as JSON, each
    # pair's {words_reference, words_hypothesis, wer, recall}: what the parity test compares with Node.
    import json
    import sys

    pairs = json.load(sys.stdin)
    json.dump([{"words_reference": words(r), "words_hypothesis": words(h), "wer": wer(r, h),
                "recall": word_recall(h, r)} for r, h in pairs], sys.stdout)
