"""LocalAgreement-2 over words: a word is final once two decodes in a row agree on it.

After whisper_streaming's ``HypothesisBuffer`` (Macháček et al. 2023): each decode of the open stretch
gives a hypothesis (words with times); the words after the last final are compared with the previous
decode's, and the longest common prefix becomes final. Words are compared by their text without case
or punctuation, so "world," and "world." agree; the newer decode's spelling is what is committed.

Finals come in order and never change: a word is committed once, and a word that starts before the
end of the last committed word (less a little slack for the aligner's jitter) is not looked at again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional

_PUNCT = re.compile(r"[^\w\s]")
SLACK_S = 0.1  # a word starting this much before the last final's end is still taken as new
DEDUP_REACH_S = 2.0  # how near the last final a hypothesis must start for its head to be checked
DEDUP_WORDS = 12  # the longest run of final words looked for again at a hypothesis head (a context re-aligns them)


def norm(text: str) -> str:
    return " ".join(_PUNCT.sub("", text.lower()).split())


@dataclass(frozen=True)
class Word:
    start: float  # seconds of audio (absolute, gaps not counted)
    end: float
    text: str  # as Whisper spelled it, with its leading space
    probability: float = 1.0


class HypothesisBuffer:
    def __init__(self) -> None:
        self.committed_end: Optional[float] = None
        self._recent: List[Word] = []  # the last final words, for the head check
        self._previous: List[Word] = []  # the last decode's words after the finals
        self._new: List[Word] = []

    @property
    def pending(self) -> List[Word]:
        """The newest decode's words that are not final yet (the partial)."""
        return list(self._new)

    def insert(self, words: List[Word]) -> None:
        """A new decode's words. Words already final are dropped: by time, then by text at the head
        (the aligner may place a final word again a little later than it did before)."""
        self._previous = self._new
        if self.committed_end is not None:
            words = [w for w in words if w.start > self.committed_end - SLACK_S]
            if words and abs(words[0].start - self.committed_end) < DEDUP_REACH_S and self._recent:
                for n in range(min(len(self._recent), len(words), DEDUP_WORDS), 0, -1):
                    tail = " ".join(norm(w.text) for w in self._recent[-n:])
                    head = " ".join(norm(w.text) for w in words[:n])
                    if tail == head:
                        words = words[n:]
                        break
        self._new = words

    def agreed_count(self) -> int:
        """How many of the newest decode's first words the previous decode had too, in order."""
        n = 0
        for new, old in zip(self._new, self._previous):
            if norm(new.text) != norm(old.text) or not norm(new.text):
                break
            n += 1
        return n

    def agreed(self) -> List[Word]:
        """Commit the longest prefix the newest decode shares with the previous one."""
        return self._take(self.agreed_count())

    def count_before(self, t: float) -> int:
        """How many of the newest decode's words start before ``t`` (they come in time order)."""
        return sum(1 for w in self._new if w.start < t)

    def take(self, count: int) -> List[Word]:
        """Commit the newest decode's first ``count`` words whether or not they were agreed on (a
        phrase that ends at a pause, a closing decode, a stretch that must be cut)."""
        return self._take(min(count, len(self._new)))

    def distrust(self) -> None:
        """The newest decode is not to be agreed with (a loop, a low-confidence guess)."""
        self._new = []
        self._previous = []

    def reset(self) -> None:
        """The audio after the last final was dropped or cut off: earlier hypotheses are void."""
        self._new, self._previous = [], []

    def cut_at(self, t: float) -> None:
        """The audio before ``t`` is gone and the next decode starts there. A last final word that starts
        before ``t`` but ends after it was stretched by the aligner: the words after ``t`` are new, and
        must not be taken for it. Final words that start after ``t`` keep their place."""
        if self.committed_end is not None and self.committed_end > t and self._recent and self._recent[-1].start < t:
            self.committed_end = t

    def _take(self, n: int) -> List[Word]:
        out, self._new = self._new[:n], self._new[n:]
        if out:
            end = out[-1].end
            if self._new:  # the aligner stretches a word up to the next one at times: trust the next one's start
                end = min(end, max(out[-1].start, self._new[0].start))
            self.committed_end = end if self.committed_end is None else max(self.committed_end, end)
            self._recent = (self._recent + out)[-DEDUP_WORDS:]
        return out
