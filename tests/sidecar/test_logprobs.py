"""Token log-probabilities (transcribe's logprobs: OpenAI's include[]=logprobs) through the real sidecar
and the real embedded base model."""

import math
import statistics

from client import AUDIO, fixture_text, wer


def test_logprobs_spell_the_text_and_a_clear_fixture_scores_near_zero(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "story.flac"), "language": "en",
                                      "logprobs": True})["result"]
    assert wer(fixture_text("story"), res["text"]) <= 0.15, res["text"]
    logprobs = []
    for seg in res["segments"]:
        tokens = seg["logprobs"]
        assert tokens, seg
        assert "".join(t["token"] for t in tokens) == seg["text"]
        for t in tokens:
            assert math.isfinite(t["logprob"]) and t["logprob"] <= 0, t
            assert bytes(t["bytes"]).decode("utf-8") == t["token"], t
        logprobs += [t["logprob"] for t in tokens]
    # A clear recording: the model is sure of most tokens.
    assert statistics.median(logprobs) > -0.5, logprobs
    # not all 0 either: these are the model's numbers, not a constant
    assert min(logprobs) < -0.01, logprobs


def test_logprobs_in_batched_transcription(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "weather.flac"), "batch_size": 4,
                                      "logprobs": True})["result"]
    for seg in res["segments"]:
        assert "".join(t["token"] for t in seg["logprobs"]) == seg["text"]
    assert statistics.median(t["logprob"] for s in res["segments"] for t in s["logprobs"]) > -0.5


def test_no_logprobs_unless_asked(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "hello.flac"), "language": "en"})["result"]
    assert res["segments"] and all("logprobs" not in seg for seg in res["segments"])
    rid = sidecar.send("transcribe", {"path": str(AUDIO / "hello.flac"), "logprobs": False})
    assert sidecar.response(rid)["result"]["segments"]
    notes = sidecar.notifications("segment", rid)
    assert notes and all("logprobs" not in n["params"]["segment"] for n in notes)


def test_logprobs_must_be_a_boolean(sidecar):
    r = sidecar.call("transcribe", {"path": str(AUDIO / "hello.flac"), "logprobs": "yes"})
    assert r["error"]["data"]["param"] == "logprobs", r
