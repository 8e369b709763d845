"""The live stream's pieces, each alone: the timeline, the speech tracker, LocalAgreement over words,
the loop guards, and the capacity meter. No model runs; decode results and VAD probabilities are made here.
"""

import numpy as np
import pytest

from sidecar.errors import CapacityExceeded
from sidecar.stream import capacity as cap
from sidecar.stream.agreement import HypothesisBuffer, Word
from sidecar.stream.guards import check, compression_ratio, repetition_start
from sidecar.stream.speech import SpeechTracker
from sidecar.stream.step import ENCODE_FLOOR_S, MAX_WINDOW_S, TAIL_PAD_S, encoder_samples
from sidecar.stream.timeline import SR, Timeline
from sidecar.stream.vad import WINDOW


def words(*spec, start=0.0, dur=0.4):
    """Words said one after another from ``start``: words("a", "b") -> [a 0-0.4, b 0.4-0.8]."""
    return [Word(round(start + i * dur, 3), round(start + (i + 1) * dur, 3), " " + t) for i, t in enumerate(spec)]


class ScriptedVad:
    """A VAD whose probability for each 32-ms window is given by ``speech(window index)``."""

    def __init__(self, speech):
        self.speech = speech
        self.windows = 0
        self.pending = 0

    def feed(self, samples):
        total = self.pending + samples.size
        count, self.pending = divmod(total, WINDOW)
        probs = [1.0 if self.speech(self.windows + i) else 0.0 for i in range(count)]
        self.windows += count
        return np.array(probs, dtype=np.float32)

    def reset(self):
        self.pending = 0


# ---- timeline -----------------------------------------------------------------------------------
def test_timeline_times_count_gaps_from_where_they_happen_and_drops_never_pass_a_break():
    tl = Timeline(keep_s=0.25)
    tl.append(np.zeros(2 * SR, np.float32))
    tl.add_break(3.0, "gap")
    tl.append(np.zeros(SR, np.float32))
    assert tl.received_s() == 6.0, "a gap not yet passed counts in received_s at once"
    assert tl.limit() == 2 * SR
    assert tl.time_of(2 * SR) == 2.0
    assert tl.drop_point(keep_s=0.5) == 2 * SR, "a drop stops at the break"
    tl.advance(2 * SR)
    brk = tl.pass_break()
    assert (brk.at, brk.gap_s, brk.reason) == (2 * SR, 3.0, "gap")
    assert tl.time_of(2 * SR) == 5.0 and tl.time_of(3 * SR) == 6.0
    assert tl.buffered_s() == 1.0
    assert tl.window(2 * SR, 3 * SR).size == SR
    assert not tl.advance(SR), "the commit point never goes back"


# ---- speech -------------------------------------------------------------------------------------
def test_speech_tracker_turns_pauses_and_speech_seconds():
    said = set(range(10, 40)) | set(range(60, 90))  # two runs of ~1 s, a 0.64-s pause between
    events = []
    sp = SpeechTracker(ScriptedVad(lambda i: i in said), silence_s=0.5)
    sp.feed(np.zeros(120 * WINDOW, np.float32), 120 * WINDOW, lambda e, i: events.append((e, i)))
    assert events == [("started", 10 * WINDOW)], "a turn starts once; stopping it is the stream's call"
    assert sp.runs == [[10 * WINDOW, 40 * WINDOW], [60 * WINDOW, 90 * WINDOW]]
    assert sp.pause_near(40 * WINDOW) and not sp.pause_near(25 * WINDOW)
    assert sp.paused(), "30 windows (0.96 s) of silence after the last speech"
    assert sp.speech_in(0, 120 * WINDOW) == pytest.approx(60 * WINDOW / SR)
    assert sp.pending_after(89 * WINDOW) and not sp.pending_after(90 * WINDOW)
    assert SpeechTracker(None, 0.5).speech_in(0, SR) == 1.0, "without a VAD all audio is speech"


# ---- LocalAgreement over words --------------------------------------------------------------------
def test_two_decodes_that_agree_commit_their_common_words_and_only_those():
    hyp = HypothesisBuffer()
    hyp.insert(words("hello", "world", "this", "is"))
    assert hyp.agreed() == [], "one decode alone commits nothing"
    hyp.insert(words("Hello,", "world.", "This", "was", "a"))
    committed = hyp.agreed()
    assert [w.text for w in committed] == [" Hello,", " world.", " This"], "case and punctuation do not count"
    assert [w.text for w in hyp.pending] == [" was", " a"]
    # the next decode still holds the committed words (same audio): they are not committed twice
    hyp.insert(words("Hello", "world", "this", "was", "a", "test"))
    assert [w.text for w in hyp.agreed()] == [" was", " a"]
    assert hyp.committed_end == pytest.approx(2.0)


def test_a_final_word_placed_a_little_later_by_the_aligner_is_not_committed_again():
    hyp = HypothesisBuffer()
    hyp.insert(words("one", "two", "three"))
    hyp.insert(words("one", "two", "three", "four"))
    assert [w.text for w in hyp.agreed()] == [" one", " two", " three"]
    # "three" comes back starting after the last final ended (jitter), then new words
    later = [Word(1.25, 1.6, " three"), Word(1.6, 2.0, " four"), Word(2.0, 2.4, " five")]
    hyp.insert(later)
    assert [w.text for w in hyp.pending] == [" four", " five"], "the head matching the last finals is dropped"


def test_take_commits_unagreed_words_and_distrust_stops_agreement():
    hyp = HypothesisBuffer()
    hyp.insert(words("a", "b", "c"))
    assert hyp.count_before(0.8) == 2
    assert [w.text for w in hyp.take(2)] == [" a", " b"]
    hyp.insert(words("c", "d", start=0.8))
    hyp.distrust()
    hyp.insert(words("c", "d", start=0.8))
    assert hyp.agreed() == [], "a distrusted decode is nothing to agree with"


# ---- guards ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,start", [
    ("hello world this is my channel this is my channel this is my channel", 6),
    ("no no no no no", 1),
    ("a b c d a b c d", 4),
    ("i don't know i don't know", None),
    ("i don't know i don't know i don't know", 3),
    ("the cat sat on the mat", None),
    ("very very good", None),
    ("one two one two", None),  # a pair said twice can be speech
    ("one two one two one two", 2),
])
def test_repetition_start_finds_the_second_saying_of_a_looping_phrase(text, start):
    assert repetition_start(text.split()) == start


def test_check_cuts_a_loop_and_flags_doubtful_decodes():
    looped = words(*("Hello world! This is my channel." + " This is my channel." * 6).split())
    verdict = check(looped, avg_logprob=-0.3, window_s=30.0)
    assert verdict.loop and verdict.keep == 6 and verdict.confident
    fine = words(*"The weather today is sunny with a light breeze".split())
    assert check(fine, -0.3, 3.0) == type(verdict)(len(fine), False, True)
    assert not check(fine, -1.4, 3.0).confident
    assert check(fine, -0.3, 0.5) == type(verdict)(6, True, True), "nine words in half a second are made up"
    passage = "the low world this is a test on the speech recognition system but whatever today is sunny".split()
    again = words(*(passage + passage))
    assert check(again, -0.3, 30.0).keep == len(passage), "a whole passage said again is a loop too"
    assert compression_ratio("la " * 60) > 2.4 > compression_ratio("The weather today is sunny with a light breeze.")


# ---- the encoder window ---------------------------------------------------------------------------
def test_encoder_window_has_a_floor_and_silence_after_the_audio():
    assert encoder_samples(SR) == int(ENCODE_FLOOR_S * SR), "a 1-s clip is encoded as the floor"
    assert encoder_samples(10 * SR) == int((10 + TAIL_PAD_S) * SR)
    assert encoder_samples(29 * SR) == int(MAX_WINDOW_S * SR), "never more than Whisper's 30 s"


# ---- capacity -------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_capacity_refuses_a_stream_that_would_pass_real_time_and_names_the_figures():
    clock = Clock()
    meter = cap.Capacity(clock)
    meter.check_open(0)  # nothing measured: the first stream always opens
    for second in range(20):  # one stream, 20 s of audio, 0.6 s of decoding each second
        clock.t += 1.0
        meter.add_audio("s1", 1.0)
        meter.add_decode({"s1": 0.6}, batch_size=1)
    figures = meter.figures()
    assert figures["load"] == pytest.approx(0.6, abs=0.05)
    assert figures["decode_s_per_audio_s"] == pytest.approx(0.6)
    with pytest.raises(CapacityExceeded) as refused:
        meter.check_open(1)
    e = refused.value.to_error()
    assert e["code"] == -32011 and e["data"]["kind"] == "capacity"
    assert e["data"]["open_streams"] == 1 and e["data"]["projected_load"] == pytest.approx(1.2, abs=0.1)
    assert e["data"]["decode_s_per_audio_s"] == pytest.approx(0.6) and e["data"]["retry_after_s"] > 0
    assert f"{e['data']['load']:.0%} busy" in e["message"] and "costs 0.6 s" in e["message"], e["message"]
    assert meter.step_factor() == 1.0, "0.6 is not loaded enough to thin partials"
    meter.forget("s1")
    meter.check_open(1)  # a closed stream's cost no longer counts


def test_capacity_refuses_while_an_open_stream_is_behind_its_audio_whatever_the_load():
    clock = Clock()
    meter = cap.Capacity(clock)
    for _ in range(20):  # light: 0.2 s of decoding a second
        clock.t += 1.0
        meter.add_audio("s1", 1.0)
        meter.add_decode({"s1": 0.2}, batch_size=1)
    meter.check_open(1, [1.0])
    with pytest.raises(CapacityExceeded) as refused:
        meter.check_open(1, [cap.BEHIND_S + 2])
    e = refused.value.to_error()
    assert e["data"]["behind_s"] == cap.BEHIND_S + 2 and "behind its audio" in e["message"], e


def test_two_decoders_count_twice_the_time_and_one_stream_behind_leaves_the_other_free():
    clock = Clock()
    meter = cap.Capacity(clock, decoders=2)
    for _ in range(20):  # two streams, 0.6 s of decoding a second each, on two decoders at once
        clock.t += 1.0
        for sid in ("s1", "s2"):
            meter.add_audio(sid, 1.0)
            meter.add_decode({sid: 0.6}, batch_size=1)
    assert meter.figures()["load"] == pytest.approx(0.6, abs=0.05)
    with pytest.raises(CapacityExceeded):
        meter.check_open(2)  # 0.6 x 3/2 = 0.9 and more: past LIMIT
    meter.forget("s2")
    assert meter.figures()["load"] == pytest.approx(0.3, abs=0.05)
    meter.check_open(1, [cap.BEHIND_S + 2])  # one stream behind keeps one decoder: the other is free
    with pytest.raises(CapacityExceeded):
        meter.check_open(2, [cap.BEHIND_S + 2, cap.BEHIND_S + 1])


def test_a_decode_under_way_counts_in_the_load_before_it_ends():
    clock = Clock()
    meter = cap.Capacity(clock, decoders=2)
    meter.add_audio("s1", 30.0)  # a stream written at once: two long decodes begin
    meter.add_audio("s2", 30.0)
    first, second = meter.start_decode(), meter.start_decode()
    clock.t += 8.0
    assert meter.figures()["load"] == pytest.approx(1.0), "both decoders have been busy for 8 s"
    with pytest.raises(CapacityExceeded):
        meter.check_open(2)
    meter.end_decode(first)
    meter.end_decode(second)
    meter.add_decode({"s1": 8.0}, batch_size=1)
    meter.add_decode({"s2": 8.0}, batch_size=1)
    assert meter.figures()["load"] == pytest.approx(1.0), "counted once: the ended decodes as measures"
    meter.forget("s2")
    meter.add_decode({"s2": 1.0}, batch_size=1)  # a decode that ends after its stream closed
    assert "s2" not in meter._decodes and meter.figures()["load"] == pytest.approx(0.5)


def test_capacity_thins_partials_when_loaded_and_counts_what_the_relay_shows():
    clock = Clock()
    meter = cap.Capacity(clock)
    for _ in range(20):
        clock.t += 1.0
        meter.add_audio("a", 1.0)
        meter.add_audio("b", 1.0)
        meter.add_decode({"a": 0.45, "b": 0.45}, batch_size=2)
    assert meter.step_factor() == 2.0
    meter.count("partials_thinned", 3)
    meter.count("loops")
    snap = meter.snapshot(open_streams=2)
    assert snap["open_streams"] == 2 and snap["headroom"] == pytest.approx(0.1, abs=0.05)
    assert snap["batch_sizes"] == {"2": 20} and snap["partials_thinned"] == 3 and snap["loops"] == 1
    clock.t += cap.WINDOW_S + 1
    assert meter.figures()["load"] == 0.0, "measures older than the window are forgotten"


# ---- word times: stretched words, speech onset, the context's words -------------------------------
from sidecar.stream import policy  # noqa: E402
from sidecar.stream.step import Piece, StepResult, WordTime, _untangled  # noqa: E402


def test_a_first_word_stretched_over_silence_is_trimmed_to_twice_the_median_word():
    words = (WordTime(0.0, 3.5, " Hello"), WordTime(3.5, 3.9, " world."), WordTime(3.9, 4.2, " This"),
             WordTime(4.2, 4.5, " is"), WordTime(4.5, 9.0, " it."))
    piece = _untangled([Piece(0.0, 9.0, " Hello world. This is it.", True, words)])[0]
    longest = 2 * 0.4  # the median word is 0.4 s
    assert piece.words[0].start == pytest.approx(3.5 - longest) and piece.words[0].end == 3.5
    assert piece.words[-1].end == pytest.approx(4.5 + longest), "a sentence's last word stretched after it"
    assert piece.words[1:4] == words[1:4]


def test_no_word_starts_before_the_speech_the_vad_heard():
    pieces = [Piece(0.0, 2.0, " hello world", True, (WordTime(0.2, 1.5, " hello"), WordTime(1.5, 2.0, " world")))]
    words = policy.words_of(pieces, 10.0, onset_s=11.2)
    assert [(w.start, w.end) for w in words] == [(11.2, 11.5), (11.5, 12.0)]
    assert policy.words_of(pieces, 10.0)[0].start == 10.2


def test_the_context_s_words_are_left_out_and_a_word_across_the_commit_point_kept():
    words = (WordTime(0.5, 1.0, " said"), WordTime(1.0, 2.8, " before."), WordTime(2.9, 3.4, " The"),
             WordTime(3.4, 4.0, " next"))
    result = StepResult([Piece(0.0, 4.0, " said before. The next", False, words)], "en", 1.0, False)
    after = policy.after_context(result, 3.0)
    # "said" ended long before the commit point: context; "before." ends just before it: kept for the
    # hypothesis buffer to drop by its text; "The" starts before it: kept, from the commit point on
    assert [w.text for w in after.pieces[0].words] == [" before.", " The", " next"]
    assert [(w.start, w.end) for w in after.pieces[0].words] == [(0.0, 0.0), (0.0, 0.4), (0.4, 1.0)]
    buffer = HypothesisBuffer()
    buffer.insert([Word(9.0, 9.5, " said"), Word(9.5, 10.0, " before.")])
    buffer.take(2)
    buffer.insert(policy.words_of(after.pieces, 10.0))
    assert [w.text for w in buffer.pending] == [" The", " next"], "the final word heard again is dropped"
