"""Checks a decode passes before its words may become final.

LocalAgreement confirms whatever two decodes say alike, a loop included: a short window ending in
speech makes Whisper repeat a phrase until its token limit, the next decode repeats it too, and once
committed it becomes the prompt that keeps the loop going (WhisperLiveKit PR #339). So a hypothesis
is cut where a phrase starts repeating, a text that compresses too well is a loop as a whole, and a
decode Whisper itself was unsure of (average log-probability) only feeds the partial.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .agreement import Word, norm

# faster-whisper's defaults for its temperature fallback
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
# a phrase of n words said this many times in a row is a loop (a word said three times can be real)
REPEATS_FOR = {1: 4, 2: 3, 3: 3}
REPEATS_LONGER = 2  # four words or more (a whole passage said again, too)
MIN_CHARS_FOR_RATIO = 40  # shorter texts don't compress at all
MAX_WORDS_PER_S = 6.0  # fast speech is 4 to 5 words a second; more than this (plus a few) is not speech


@dataclass(frozen=True)
class Verdict:
    keep: int  # how many leading words may be trusted
    loop: bool  # a repetition or compression loop was found
    confident: bool  # Whisper's average log-probability is above the threshold


def repetition_start(texts: Sequence[str]) -> Optional[int]:
    """The index of the word where a phrase starts repeating itself (its second saying), or None.

    "a b c d a b c d" -> 4 (a phrase of four words or more: said twice); "no no no no" -> 1 (one word:
    said four times); "I don't know, I don't know" is speech (three words: three times for a loop).
    """
    words = [norm(t) for t in texts]
    best: Optional[int] = None
    for n in range(1, len(words) // 2 + 1):
        need = REPEATS_FOR.get(n, REPEATS_LONGER)
        for i in range(0, len(words) - n * need + 1):
            phrase = words[i:i + n]
            if not any(phrase):
                continue
            if all(words[i + k * n:i + (k + 1) * n] == phrase for k in range(1, need)):
                if best is None or i + n < best:
                    best = i + n
                break
    return best


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def check(words: List[Word], avg_logprob: float, window_s: float) -> Verdict:
    """``words``: a decode's words; ``window_s``: the seconds of audio it heard."""
    start = repetition_start([w.text for w in words])
    text = "".join(w.text for w in words)
    if start is None and len(text) >= MIN_CHARS_FOR_RATIO and compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD:
        start = 0  # a loop as a whole, though no phrase repeats word for word
    most = int(MAX_WORDS_PER_S * window_s) + 3
    if start is None and len(words) > most:
        start = most  # more words than the audio can hold: the rest is made up
    confident = avg_logprob >= LOG_PROB_THRESHOLD
    if start is None:
        return Verdict(len(words), False, confident)
    return Verdict(start, True, confident)
