"""What a live stream says: its finals (kept for the result), the partial, ``speech`` events.

Finals are numbered 0, 1, 2, ... and never go back in time: a final starts no earlier than the one
before it ended. A partial carries the id the next final will get.
"""

from __future__ import annotations

from typing import Callable, List

from .agreement import Word
from .timeline import SR

Notify = Callable[[str, dict], None]
_SENTENCE_END = (".", "!", "?", "。", "！", "？")
PAUSE_S = 0.5  # a silence this long between two words ends a final


class Output:
    def __init__(self, stream_id: str, notify: Notify, time_of: Callable[[int], float], partials: bool,
                 word_times: bool = False) -> None:
        self._id = stream_id
        self._word_times = word_times
        self._notify = notify
        self._time_of = time_of
        self._partials = partials
        self.finals: List[dict] = []
        self.next_id = 0
        self.gaps = 0
        self.final_end = 0  # sample index where the last final ends
        self._spoken: List[tuple] = []  # (final id, end index, text) of the finals with words

    def status(self, timeline, device, capacity) -> None:
        """The live ``status`` line: what was received and how far behind the decodes are."""
        lag, received = timeline.lag_s(), timeline.received_s()
        params = {"request_id": None, "stream_id": self._id, "stage": "live",
                  "message": f"Live: {received:.1f} s received, {lag:.1f} s behind", "progress": None,
                  "device": device, "lag_s": lag, "buffered_s": timeline.buffered_s(), "received_s": received}
        if capacity is not None:
            params["capacity"] = capacity
        self._notify("status", params)

    def words(self, words: List[Word], limit: int) -> None:
        """Finals for ``words`` (whole words, in order), ending no later than index ``limit``: one per
        sentence, and a pause between two words starts a new one, so a final is never longer than
        the speech it holds."""
        group: List[Word] = []
        for i, w in enumerate(words):
            group.append(w)
            nxt = words[i + 1] if i + 1 < len(words) else None
            if nxt is None or w.text.rstrip().endswith(_SENTENCE_END) or nxt.start - w.end >= PAUSE_S:
                self._words(group, limit)
                group = []

    def _words(self, words: List[Word], limit: int) -> None:
        text = "".join(w.text for w in words)
        if not text.strip():
            return
        start = max(self.final_end, int(round(words[0].start * SR)))
        end = max(start, min(limit, int(round(words[-1].end * SR))))
        self.final_end = end
        self._spoken = (self._spoken + [(self.next_id, end, text)])[-16:]
        segment = {"start": self._time_of(start), "end": self._time_of(end), "text": text}
        if self._word_times:
            segment["words"] = self._timed(words, start, end)
        self._final(segment)

    def _timed(self, words: List[Word], start: int, end: int) -> List[dict]:
        """The final's words in stream time, in order and inside the final (the aligner's times may
        overlap a little, or reach past the audio the final covers)."""
        out, at = [], start
        for w in words:
            w0 = min(end, max(at, int(round(w.start * SR))))
            w1 = min(end, max(w0, int(round(w.end * SR))))
            at = w1
            out.append({"word": w.text, "start": self._time_of(w0), "end": self._time_of(w1),
                        "probability": round(w.probability, 4)})
        return out

    def gap(self, start: int, end: int, reason: str, gap_s: float = 0.0) -> None:
        """A final with no text over ``start``..``end`` (indexes), plus ``gap_s`` seconds of lost audio."""
        start = max(start, self.final_end) if not gap_s else start
        t0 = self._time_of(start)
        t1 = round(t0 + gap_s, 3) if gap_s else self._time_of(max(start, end))
        self.final_end = max(self.final_end, end)
        self._final({"start": t0, "end": t1, "text": "", "gap": True, "reason": reason})

    def partial(self, words: List[Word], end: int) -> None:
        text = "".join(w.text for w in words)
        if not text.strip() or not self._partials:
            return
        start = max(self.final_end, int(round(words[0].start * SR)))
        self._notify("segment", {"request_id": None, "stream_id": self._id, "segment": {
            "id": self.next_id, "start": self._time_of(start), "end": self._time_of(max(start, end)),
            "text": text, "final": False}})

    def speech(self, event: str, index: int) -> None:
        """``speech`` notifications: the turns the VAD hears (started, stopped) and ``committed`` once
        every final of a closed stretch, or of everything before a break, is out."""
        self._notify("speech", {"request_id": None, "stream_id": self._id, "event": event,
                                "time": self._time_of(index), "next_id": self.next_id})

    def prompt_text(self, since: int, before: int, chars: int) -> str:
        """The last ``chars`` characters of the finals with words from final id ``since`` on that end by
        index ``before``. Text of the audio a decode hears must not be in its prompt: Whisper would skip
        those words, and the times of what it says next would be wrong (whisper_streaming's prompt, too,
        is only the text before its buffer)."""
        spoken = [text for final_id, end, text in self._spoken if final_id >= since and end <= before]
        return "".join(spoken[-8:])[-chars:].strip()

    def _final(self, segment: dict) -> None:
        segment = {"id": self.next_id, **segment, "final": True}
        self.next_id += 1
        if segment.get("gap"):
            self.gaps += 1
        self.finals.append(segment)
        self._notify("segment", {"request_id": None, "stream_id": self._id, "segment": segment})
