"""The live stream's commit policy (sidecar/stream/session.py) driven with decode results made here.

No model runs: a decode's result is given as Whisper could return it, so each case is exact. The
invariant: the commit point never moves past speech whose words were not sent as finals; audio that a
decode did not transcribe is decoded again.
"""

import numpy as np

from sidecar.stream.session import SR, LiveStream, StreamOptions
from sidecar.stream.step import Piece, StepResult, WordTime


def _stream():
    sent = []
    stream = LiveStream("s1", StreamOptions(vad=False, language="en"), lambda method, params: sent.append((method, params)))
    return stream, sent


def _result(*pieces):
    return StepResult(pieces=[Piece(*p) for p in pieces], language="en", language_probability=1.0, no_speech=False)


def _heard(plan, result):
    """``result`` written from the commit point on, as the decode of the plan's window returns it: that
    window starts ``plan.context`` samples earlier (final audio heard again, see session.CONTEXT_S)."""
    c = plan.context / SR
    return StepResult(pieces=[Piece(p.start + c, p.end + c, p.text, p.finished,
                                    tuple(WordTime(w.start + c, w.end + c, w.text, w.probability) for w in p.words))
                              for p in result.pieces],
                      language=result.language, language_probability=result.language_probability,
                      no_speech=result.no_speech, avg_logprob=result.avg_logprob)


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
    stream.apply(again, _heard(again, _result((0.0, 17.5, " The second sentence.", True))), decode_s=0.1)
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


# ---- words: LocalAgreement, guards, gaps, thinning ------------------------------------------------
from sidecar.stream.capacity import Capacity  # noqa: E402
from sidecar.stream.speech import SpeechTracker  # noqa: E402


def _said(text, start=0.0, dur=0.4, finished=False, end=None):
    """A piece of words said one after another from ``start`` (seconds from the window's start)."""
    ws = tuple(WordTime(round(start + i * dur, 3), round(start + (i + 1) * dur, 3), " " + t)
               for i, t in enumerate(text.split()))
    return Piece(start, end if end is not None else ws[-1].end, "".join(w.text for w in ws), finished, ws)


def _words_result(*pieces, avg_logprob=-0.2):
    return StepResult(pieces=list(pieces), language="en", language_probability=1.0, no_speech=False,
                      avg_logprob=avg_logprob)


def _partials(sent):
    return [p["segment"] for m, p in sent if m == "segment" and not p["segment"]["final"]]


def _decode(stream, seconds, result, now):
    stream.add_audio(np.zeros(int(seconds * SR), dtype=np.float32))
    plan = stream.plan(now=now)
    assert plan is not None and not plan.closing
    stream.apply(plan, _heard(plan, result), decode_s=0.1)
    return plan


def test_the_prompt_holds_only_finals_before_the_window():
    """Whisper skips words of its audio that are in its prompt, and the times of what it says next
    are wrong: a final still inside the window is no prompt yet."""
    stream, sent = _stream()
    _decode(stream, 2.0, _words_result(_said("the weather today")), now=0.0)
    _decode(stream, 1.0, _words_result(_said("the weather today is sunny")), now=1.0)
    assert [f["text"] for f in _finals(sent)] == [" the weather today"] and stream.committed == 0
    assert stream.prompt() is None


def test_words_two_decodes_agree_on_become_one_final_and_the_rest_stays_partial():
    stream, sent = _stream()
    _decode(stream, 2.0, _words_result(_said("the weather today")), now=0.0)
    assert _finals(sent) == [], "one decode commits nothing"
    _decode(stream, 1.0, _words_result(_said("the weather today is sunny")), now=1.0)
    finals = _finals(sent)
    assert [f["text"] for f in finals] == [" the weather today"]
    assert (finals[0]["start"], finals[0]["end"]) == (0.0, 1.2), "the final spans its words"
    assert _partials(sent)[-1]["text"] == " is sunny" and _partials(sent)[-1]["id"] == 1
    _decode(stream, 1.0, _words_result(_said("the weather today is sunny with a")), now=2.0)
    finals = _finals(sent)
    assert [f["text"] for f in finals] == [" the weather today", " is sunny"], "earlier finals never change"
    assert finals[1]["start"] >= finals[0]["end"] and [f["id"] for f in finals] == [0, 1]
    assert stream.committed == 0, "no phrase is closed yet: the window still starts at 0"


def test_a_closed_phrase_whose_words_are_all_final_moves_the_window_to_its_end():
    stream, sent = _stream()
    first = _said("please call me back", finished=True, end=1.7)
    second = _said("the meeting", start=1.8)
    _decode(stream, 3.0, _words_result(first, second), now=0.0)
    _decode(stream, 1.0, _words_result(first, _said("the meeting starts", start=1.8)), now=1.0)
    assert [f["text"] for f in _finals(sent)] == [" please call me back the meeting"]
    assert stream.committed == int(1.7 * SR), "cut at the closed phrase's end, never inside a word"
    plan = _decode(stream, 1.0, _words_result(_said("the meeting starts on monday", start=0.1)), now=2.0)
    assert plan.start == int(1.7 * SR)
    assert [f["text"] for f in _finals(sent)] == [" please call me back the meeting", " starts"], \
        "final words come once; the word the last two decodes agree on follows"
    assert _partials(sent)[-1]["text"] == " on monday"


def test_a_loop_two_decodes_agree_on_is_never_committed_and_the_prompt_is_reset(monkeypatch):
    # no final audio heard again before the window: "hello world" is prompt at once
    monkeypatch.setattr("sidecar.stream.session.CONTEXT_S", 0.0)
    meter = Capacity()
    sent = []
    stream = LiveStream("s1", StreamOptions(vad=False, language="en"), lambda m, p: sent.append((m, p)),
                        capacity=meter)
    _decode(stream, 2.0, _words_result(_said("hello world", finished=True)), now=0.0)
    _decode(stream, 1.0, _words_result(_said("hello world", finished=True), _said("this is", start=0.8)), now=1.0)
    assert [f["text"] for f in _finals(sent)] == [" hello world"]
    assert stream.committed == int(0.8 * SR)
    assert stream.prompt() == "hello world", "final text before the window is its prompt"
    loop = _said("hello world this is my channel" + " this is my channel" * 5)
    _decode(stream, 1.0, _words_result(loop), now=2.0)
    _decode(stream, 1.0, _words_result(loop), now=3.0)
    assert [f["text"] for f in _finals(sent)] == [" hello world"], "the loop was shown, never final"
    assert meter.loops == 2 and stream.prompt() is None, "and it is no longer the prompt"
    assert "channel this is my channel" not in _partials(sent)[-1]["text"], "the partial stops where it loops"


def test_a_doubtful_decode_commits_nothing_and_is_nothing_to_agree_with():
    stream, sent = _stream()
    _decode(stream, 2.0, _words_result(_said("fine words here")), now=0.0)
    _decode(stream, 1.0, _words_result(_said("fine words here now"), avg_logprob=-1.6), now=1.0)
    _decode(stream, 1.0, _words_result(_said("fine words here now")), now=2.0)
    assert _finals(sent) == [], "a decode below the log-prob gate neither commits nor counts as agreement"
    _decode(stream, 1.0, _words_result(_said("fine words here now and")), now=3.0)
    assert [f["text"] for f in _finals(sent)] == [" fine words here now"]


class _Vad:
    """Speech for the first ``speech_s`` seconds, silence after."""

    def __init__(self, speech_s):
        self.windows, self.pending, self.speech_windows = 0, 0, int(speech_s * SR) // 512

    def feed(self, samples):
        count, self.pending = divmod(self.pending + samples.size, 512)
        probs = [1.0 if self.windows + i < self.speech_windows else 0.0 for i in range(count)]
        self.windows += count
        return np.array(probs, dtype=np.float32)

    def reset(self):
        self.pending = 0


def test_speech_that_decodes_to_no_text_twice_is_a_decode_failed_gap_not_silence():
    meter = Capacity()
    sent = []
    stream = LiveStream("s1", StreamOptions(language="en"), lambda m, p: sent.append((m, p)),
                        capacity=meter, speech=SpeechTracker(_Vad(2.0), silence_s=0.5))
    stream.add_audio(np.zeros(3 * SR, dtype=np.float32))  # 2 s of speech, then a pause: the turn closes
    plan = stream.plan(now=0.0)
    assert plan.closing
    stream.apply(plan, _words_result(), decode_s=0.1)
    assert _finals(sent) == [] and stream.committed == 0, "decoded once more first"
    again = stream.plan(now=0.1)
    assert (again.start, again.end, again.closing) == (plan.start, plan.end, True)
    stream.apply(again, _words_result(), decode_s=0.1)
    gap = _finals(sent)
    assert len(gap) == 1 and gap[0]["gap"] and gap[0]["reason"] == "decode_failed" and gap[0]["text"] == ""
    assert gap[0]["start"] == 0.0 and gap[0]["end"] >= 2.0, "the gap covers the speech it lost"
    assert meter.decode_failed == 1


def test_thinned_partials_leave_finals_in_order_and_unchanged():
    stream, sent = _stream()
    stream.add_audio(np.zeros(2 * SR, dtype=np.float32))
    plan = stream.plan(now=0.0, step_factor=2.0)
    assert plan.thinned == 1, "unloaded, this window would have had a partial at 1 s"
    stream.apply(plan, _words_result(_said("one two")), decode_s=0.1)
    stream.add_audio(np.zeros(SR, dtype=np.float32))
    assert stream.plan(now=1.0, step_factor=2.0) is None, "loaded: one second of new audio waits"
    text = "one two three four five six seven eight nine ten eleven twelve"
    seen = []
    for n in range(3, 12):
        stream.add_audio(np.zeros(SR, dtype=np.float32))
        plan = stream.plan(now=float(n), step_factor=2.0)
        if plan is None:
            continue
        assert plan.thinned == 1, "each loaded decode stands for a partial left out"
        stream.apply(plan, _words_result(_said(" ".join(text.split()[:n]))), decode_s=0.1)
        finals = _finals(sent)
        assert finals[:len(seen)] == seen, "a final never changes"
        seen = finals
    joined = "".join(f["text"] for f in seen)
    assert joined == " " + " ".join(text.split()[:len(joined.split())]), "finals come in order, words whole"
    assert len(joined.split()) >= 6


def test_word_timestamps_give_finals_words_in_order_inside_the_final_covering_its_text():
    sent = []
    stream = LiveStream("s1", StreamOptions(vad=False, language="en", word_timestamps=True),
                        lambda m, p: sent.append((m, p)))
    # the aligner's times overlap ("today" starts before "weather" ends) and reach past the audio
    said = Piece(0.0, 2.0, " the weather today is", False, (
        WordTime(0.1, 0.4, " the", 0.9), WordTime(0.4, 1.0, " weather", 0.8),
        WordTime(0.9, 1.5, " today", 0.7), WordTime(1.5, 2.6, " is", 0.6)))
    _decode(stream, 2.0, _words_result(said), now=0.0)
    _decode(stream, 1.0, _words_result(said, _said("sunny", start=2.6)), now=1.0)
    finals = _finals(sent)
    assert [f["text"] for f in finals] == [" the weather today is"]
    words = finals[0]["words"]
    assert "".join(w["word"] for w in words) == finals[0]["text"], "the words cover the final's text"
    assert [w["probability"] for w in words] == [0.9, 0.8, 0.7, 0.6]
    for a, b in zip(words, words[1:]):
        assert a["start"] <= a["end"] <= b["start"] <= b["end"], "monotonic"
    assert finals[0]["start"] <= words[0]["start"] and words[-1]["end"] <= finals[0]["end"], "inside the final"
    plain, sent2 = _stream()
    _decode(plain, 2.0, _words_result(said), now=0.0)
    _decode(plain, 1.0, _words_result(said, _said("sunny", start=2.6)), now=1.0)
    assert "words" not in _finals(sent2)[0], "off by default"


def test_final_audio_heard_again_before_the_window_gives_its_words_once():
    """A window starts up to CONTEXT_S before the commit point (Whisper hears a new phrase's first
    words better after the audio before them): the context's words, already final, are left out."""
    stream, sent = _stream()
    _decode(stream, 2.0, _words_result(_said("hello world", finished=True)), now=0.0)
    _decode(stream, 1.0, _words_result(_said("hello world", finished=True), _said("this is", start=0.8)), now=1.0)
    assert stream.committed == int(0.8 * SR)
    stream.add_audio(np.zeros(SR, dtype=np.float32))
    plan = stream.plan(now=2.0)
    assert plan.start == int(0.8 * SR) and plan.context == int(0.8 * SR), "the final audio is heard again"
    assert stream.window(plan).size == plan.end - plan.start + plan.context
    assert stream.prompt() is None, "the context's text is no prompt: Whisper would skip it"
    # times from the window's start, that is from 0.0: "hello world" is in the context
    said = _words_result(_said("hello world this is a test", start=0.0))
    stream.apply(plan, said, decode_s=0.1)
    assert [f["text"] for f in _finals(sent)] == [" hello world", " this is"], "agreed with the decode before"
    assert _finals(sent)[1]["start"] == 0.8 and _partials(sent)[-1]["text"] == " a test"
    stream.add_audio(np.zeros(SR, dtype=np.float32))
    again = stream.plan(now=3.0)
    stream.apply(again, _words_result(_said("hello world this is a test of", start=0.0)), decode_s=0.1)
    texts = [f["text"] for f in _finals(sent)]
    assert texts == [" hello world", " this is", " a test"], "each word final once, in order"


def test_the_context_follows_whisper_live_context_s():
    from sidecar.config import Config

    assert Config.from_env({}).live_context_s == 8.0
    assert Config.from_env({"WHISPER_LIVE_CONTEXT_S": "0"}).live_context_s == 0.0
    assert Config.from_env({"WHISPER_LIVE_CONTEXT_S": "99"}).live_context_s == 20.0, "clamped"
    for context_s, heard in ((0.0, 0), (2.0, 2 * SR)):
        stream = LiveStream("s1", StreamOptions(vad=False, language="en"), lambda m, p: None, context_s=context_s)
        _decode(stream, 3.0, _words_result(_said("hello world", finished=True, end=2.9)), now=0.0)
        _decode(stream, 1.0, _words_result(_said("hello world", finished=True, end=2.9), _said("this", start=3.0)), now=1.0)
        stream.add_audio(np.zeros(SR, dtype=np.float32))
        plan = stream.plan(now=2.0)
        assert stream.committed == int(2.9 * SR) and plan.context == heard


def test_a_window_with_its_context_is_never_longer_than_whisper_takes():
    stream, _ = _stream()
    _decode(stream, 3.0, _words_result(_said("hello world", finished=True, end=2.9)), now=0.0)
    _decode(stream, 1.0, _words_result(_said("hello world", finished=True, end=2.9), _said("this", start=3.0)), now=1.0)
    stream.add_audio(np.zeros(40 * SR, dtype=np.float32))  # a writer far ahead of real time
    plan = stream.plan(now=2.0)
    assert plan.context > 0 and plan.end - plan.start + plan.context <= 30 * SR
    assert stream.window(plan).size <= 30 * SR


def test_a_pause_starts_a_decode_that_the_closing_reuses_without_decoding_again():
    """Issue 18: a turn's last words waited silence_s and then a whole closing decode. SPECULATE_S into a
    pause, the stretch is decoded up to it; when the pause lasts, that decode's words are the turn's
    finals at once."""
    sent = []
    stream = LiveStream("s1", StreamOptions(language="en", beam_size=5), lambda m, p: sent.append((m, p)),
                        speech=SpeechTracker(_Vad(1.6), silence_s=0.5))
    stream.add_audio(np.zeros(SR, dtype=np.float32))
    first = stream.plan(now=0.0)
    assert not first.closing and first.beam(stream.options) == 1, "mid-speech: a partial"
    stream.apply(first, _heard(first, _words_result(_said("the weather"))), decode_s=0.1)
    stream.add_audio(np.zeros(int(0.9 * SR), dtype=np.float32))  # speech ends at 1.6 s; 0.3 s of pause
    assert stream.plan(now=1.0, step_factor=2.0) is None, "a loaded worker waits for the pause instead"
    plan = stream.plan(now=1.0)
    assert plan is not None and not plan.closing, "0.2 s into the pause, before a second of new audio"
    assert plan.end == stream.timeline.received, "it hears the speech to its end"
    stream.apply(plan, _heard(plan, _words_result(_said("the weather today", finished=True))), decode_s=0.1)
    assert stream.plan(now=1.1) is None, "one such decode per pause"
    stream.add_audio(np.zeros(int(0.4 * SR), dtype=np.float32))  # the pause reaches silence_s
    assert stream.plan(now=1.5) is None, "no closing decode: the last one heard the whole turn"
    assert "".join(f["text"] for f in _finals(sent)) == " the weather today"
    assert "committed" in [p["event"] for m, p in sent if m == "speech"], "the turn is whole"


def test_audio_that_comes_at_once_is_decoded_a_step_before_its_end_then_to_it():
    """Issue 18: an HLS segment's 2 s arrive at once. Decoded once, its last words waited for the next
    segment's decode to agree with; decoded twice, a step apart, they are final before it comes."""
    stream, sent = _stream()
    stream.add_audio(np.zeros(2 * SR, dtype=np.float32))
    first = stream.plan(now=0.0)
    assert (first.start, first.end) == (0, SR), "a step before the end of the audio"
    stream.apply(first, _heard(first, _words_result(_said("one two"))), decode_s=0.1)
    second = stream.plan(now=0.1)
    assert second is not None and second.end == 2 * SR, "then to its end, with no new audio"
    stream.apply(second, _heard(second, _words_result(_said("one two three four"))), decode_s=0.1)
    assert "".join(f["text"] for f in _finals(sent)) == " one two"
    assert stream.plan(now=0.2) is None, "two decodes per burst, no more"
    stream.add_audio(np.zeros(int(0.5 * SR), dtype=np.float32))
    assert stream.plan(now=0.5) is None, "audio at the pace it plays: a decode a second, as before"


def test_a_full_window_whisper_doubts_or_loops_on_moves_on_instead_of_being_decoded_forever():
    """Issue 18's bench stalled: a stream behind decodes full windows; one that Whisper doubted (or
    looped on) committed nothing, and the same window came back, decoded the same way, for minutes."""
    for result in (_words_result(_said("words whisper doubts here"), avg_logprob=-1.5),
                   _words_result(_said("so no no no no no no no"))):
        stream, sent = _stream()
        stream.add_audio(np.zeros(35 * SR, dtype=np.float32))  # more than a window: it is decoded full at once
        for attempt in range(3):
            plan = stream.plan(now=float(attempt))
            assert plan is not None and plan.end - plan.start >= 20 * SR
            stream.apply(plan, _heard(plan, result), decode_s=0.1)
            if stream.committed > 0:
                break
        assert stream.committed > 0 and attempt <= 1, "decoded again once at most (without the prompt), then cut"
        finals = "".join(f["text"] for f in _finals(sent))
        assert finals.split()[0] in ("words", "so") and "no no no" not in finals
        assert "committed" not in [p["event"] for m, p in sent if m == "speech"], "not the end of a turn"


def test_audio_left_waiting_by_a_busy_worker_is_not_split_like_a_burst():
    """Two seconds that came at the pace they play (the worker was decoding other streams) are decoded
    once: splitting them would add work to a worker that is already behind."""
    clock = [0.0]
    stream = LiveStream("s1", StreamOptions(vad=False, language="en"), lambda m, p: None, clock=lambda: clock[0])
    for _ in range(25):
        stream.add_audio(np.zeros(SR // 10, dtype=np.float32))
        clock[0] += 0.1
    plan = stream.plan(now=clock[0])
    assert (plan.start, plan.end) == (0, int(2.5 * SR))


def test_a_decode_that_only_says_the_context_again_is_decoded_again_without_it_never_passed_over():
    """CI lost 18 s of a stream: the closing decode of a 20-s window gave back only the context's final
    words, and the commit point moved to the window's end as if that were all. Now the window is decoded
    again without the context and the prompt; twice nothing new, and its speech is a marked gap."""
    for second in (_said("the rest of what was said", start=0.5, dur=4.2, finished=True), None):
        stream, sent = _stream()
        _decode(stream, 3.0, _words_result(_said("hello world", finished=True, end=2.9)), now=0.0)
        _decode(stream, 1.0, _words_result(_said("hello world", finished=True, end=2.9), _said("this", start=3.0)),
                now=1.0)
        before = stream.committed
        stream.add_audio(np.zeros(25 * SR, dtype=np.float32))
        stream.end_input()
        plan = stream.plan(now=2.0)
        assert plan.closing and plan.context > 0
        c = plan.context / SR  # the window's times: "hello world" again, ending at the commit point
        stream.apply(plan, _words_result(_said("hello world", start=c - 0.8, finished=True)), decode_s=0.1)
        assert stream.committed == before and len(_finals(sent)) == 1, "nothing passed over"
        again = stream.plan(now=3.0)
        assert (again.start, again.end, again.context) == (plan.start, plan.end, 0), "heard without the context"
        if second is not None:
            stream.apply(again, _words_result(second), decode_s=0.1)
            assert [f["text"] for f in _finals(sent)][1:] == [" the rest of what was said"]
        else:
            stream.apply(again, _words_result(_said("um", dur=0.3)), decode_s=0.1)  # and nothing after it
            um, last = _finals(sent)[-2:]
            assert um["text"] == " um" and last["gap"] and last["reason"] == "decode_failed", "a marked gap"
            assert last["start"] == um["end"] and last["end"] >= 28.9, "covering the speech it lost"
        assert stream.committed == plan.end
