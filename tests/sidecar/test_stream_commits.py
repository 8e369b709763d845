"""The live stream's commit policy (sidecar/stream/session.py) driven with decode results made here.

No model runs: a decode's result is given as Whisper could return it, so each case is exact. The
invariant: the commit point never moves past speech whose words were not sent as finals; audio that a
decode did not transcribe is decoded again.
"""

import numpy as np

from sidecar.stream.session import SR, LiveStream, StreamOptions
from sidecar.stream.step import Piece, StepResult


def _stream():
    sent = []
    stream = LiveStream("s1", StreamOptions(vad=False, language="en"), lambda method, params: sent.append((method, params)))
    return stream, sent


def _result(*pieces):
    return StepResult(pieces=[Piece(*p) for p in pieces], language="en", language_probability=1.0, no_speech=False)


def _finals(sent):
    return [p["segment"] for m, p in sent if m == "segment" and p["segment"]["final"]]


def test_a_forced_commit_keeps_what_whisper_did_not_transcribe_for_the_next_decode():
    stream, sent = _stream()
    stream.add_audio(np.zeros(25 * SR, dtype=np.float32))  # 25 s with no pause: past FORCE_COMMIT_S
    plan = stream.plan(now=0.0)
    assert (plan.start, plan.end, plan.closing) == (0, 25 * SR, False)
    # Whisper gives one segment for the first 8 s and stops: the other 17 s must not be committed unheard
    stream.apply(plan, _result((0.0, 8.0, " The first sentence.", True)), decode_s=0.1)
    assert [f["text"] for f in _finals(sent)] == [" The first sentence."]
    assert stream.committed == 8 * SR, "committed up to the segment's end, not the window's"
    stream.add_audio(np.zeros(SR, dtype=np.float32))
    again = stream.plan(now=1.0)
    assert again.start == 8 * SR, "the untranscribed audio is decoded again"
    stream.apply(again, _result((0.0, 17.5, " The second sentence.", True)), decode_s=0.1)
    partial = [p["segment"] for m, p in sent if m == "segment" and not p["segment"]["final"]][-1]
    assert partial["text"] == " The second sentence." and partial["start"] == 8.0, "its words come as the next partial"
    assert [f["text"] for f in _finals(sent)] == [" The first sentence."], "and nothing was committed past them"


def test_a_forced_commit_of_a_segment_that_reaches_the_end_still_moves_on():
    stream, sent = _stream()
    stream.add_audio(np.zeros(22 * SR, dtype=np.float32))
    plan = stream.plan(now=0.0)
    stream.apply(plan, _result((0.0, 21.6, " One long run of words.", False)), decode_s=0.1)
    assert [f["text"] for f in _finals(sent)] == [" One long run of words."]
    assert stream.committed == 22 * SR, "a segment that covers the window commits it all"
