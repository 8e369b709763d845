"""The commit policy of an open stretch: which words of a decode become final now, and where the audio
may be cut (the next decode's window starts there).

Words are final when (README "Live streams"):
- two decodes in a row agree on them (LocalAgreement-2, agreement.py), or
- they end a phrase Whisper closed with a timestamp pair at a pause the VAD heard, or
- the stretch reached FORCE_COMMIT_S: then every phrase but the last is final (or one phrase that
  stops more than a second before the audio does: the rest is decoded again).

The audio is cut only at the end of a closed phrase whose words are all final, so a cut never falls
inside a word, and what follows it is decoded again from its start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, List, Optional

from .agreement import HypothesisBuffer, Word
from .step import Piece, StepResult, WordTime

FORCE_COMMIT_S = 20.0  # an open stretch this long commits even what is not yet stable
END_MARGIN_S = 0.3  # a phrase ending this near the window's end may still grow
EPS = 1e-6
EDGE_S = 0.5  # a word ending this long before the commit point is a final word heard again


@dataclass(frozen=True)
class Decision:
    words: List[Word]  # the new finals, in order
    cut_s: Optional[float]  # seconds from the window's start where the audio may be cut, or None


def after_context(result: StepResult, context_s: float) -> StepResult:
    """A decode of a window that starts ``context_s`` before the commit point, as if it started at the
    commit point: times moved back, and the words said in the context (already final) left out. The
    aligner places words differently in each window, so time alone cannot tell: a word ending more than
    EDGE_S before the commit point is left out; one after that is kept and starts at the commit point at
    the earliest (a first word stretched back over the silence before it), and the hypothesis buffer
    drops the final words among them by their text (agreement.py)."""
    if context_s <= 0:
        return result
    pieces = []
    for p in result.pieces:
        words = tuple(WordTime(max(0.0, round(w.start - context_s, 3)), max(0.0, round(w.end - context_s, 3)), w.text,
                               w.probability) for w in p.words if w.end - context_s > -EDGE_S)
        end = round(p.end - context_s, 3)
        if (p.words and not words) or (not p.words and end <= 0):
            continue
        start = words[0].start if words else max(0.0, round(p.start - context_s, 3))
        text = "".join(w.text for w in words) if len(words) < len(p.words) else p.text
        pieces.append(Piece(start, max(start, end), text, p.finished, words))
    return replace(result, pieces=pieces)


def words_of(pieces: List[Piece], offset_s: float, onset_s: Optional[float] = None) -> List[Word]:
    """The decode's words in absolute seconds; a phrase without word times counts as one word. No word
    starts before ``onset_s``, where the VAD heard speech begin: the aligner stretches a phrase's first
    word back over the silence before it."""
    out: List[Word] = []
    for p in pieces:
        if p.words:
            out.extend(Word(round(offset_s + w.start, 3), round(offset_s + w.end, 3), w.text, w.probability)
                       for w in p.words)
        elif p.text.strip():
            out.append(Word(round(offset_s + p.start, 3), round(offset_s + p.end, 3), p.text))
    if onset_s is not None:
        out = [w if w.start >= onset_s else Word(onset_s, max(w.end, onset_s), w.text, w.probability) for w in out]
    return out


def decide_open(hyp: HypothesisBuffer, pieces: List[Piece], offset_s: float, window_s: float,
                pause_at: Callable[[float], bool], stopped_short: Callable[[], bool]) -> Decision:
    """What an open decode commits. ``hyp`` already holds this decode's words (``insert``).

    Args:
        pause_at: whether the VAD heard a pause at this window time (seconds from its start).
        stopped_short: whether the only phrase stops well before the window's end with speech after it.
    """
    # the newest decode's last word may be cut off by the window's end, or stretched to it: it waits
    count = max(0, min(hyp.agreed_count(), len(hyp.pending) - 1))
    # leading closed phrases that end at a pause are stable without waiting for another decode
    for p in pieces[:-1]:
        if not p.finished or p.end >= window_s - END_MARGIN_S or not pause_at(p.end):
            break
        count = max(count, hyp.count_before(offset_s + p.end))
    cut_override: Optional[float] = None
    if count == 0 and window_s >= FORCE_COMMIT_S:
        if len(pieces) > 1:
            count, cut_override = hyp.count_before(offset_s + pieces[-2].end), pieces[-2].end
        elif pieces and pieces[0].end > 0.5 and stopped_short():
            count, cut_override = len(hyp.pending), pieces[0].end  # decode the rest again
        else:
            count, cut_override = len(hyp.pending), window_s
    committed = hyp.take(count)
    if cut_override is not None:
        return Decision(committed, cut_override)
    return Decision(committed, phrase_cut(pieces, offset_s, hyp.committed_end))


def phrase_cut(pieces: List[Piece], offset_s: float, committed_end: Optional[float]) -> Optional[float]:
    """The end of the last closed phrase (in window seconds) whose words are all final, or None.

    The cut goes no later than the next phrase's first word, which the aligner may place earlier.
    """
    if committed_end is None:
        return None
    cut = None
    for i, p in enumerate(pieces):
        last_end = p.words[-1].end if p.words else p.end
        if not p.finished or offset_s + last_end > committed_end + EPS:
            break
        cut = p.end
        if i + 1 < len(pieces) and pieces[i + 1].words:  # no later than the next word, no earlier than this one's end
            cut = max(min(cut, pieces[i + 1].words[0].start), last_end)
    return cut
