"""Transcription through the real sidecar and the real embedded base model."""

import time

import pytest

from client import AUDIO, HELLO_MAX_WER, fixture_text, wer

STAGES = ("starting", "gpu_setup", "loading_model", "downloading_model", "transcribing", "fallback", "done", "error")


def test_transcribe_returns_the_text_and_the_documented_shape(sidecar):
    rid = sidecar.send("transcribe", {"path": str(AUDIO / "hello.flac"), "language": "en"})
    r = sidecar.response(rid)
    res = r["result"]
    assert wer(fixture_text("hello"), res["text"]) <= HELLO_MAX_WER, res["text"]
    assert set(res) >= {"text", "language", "language_probability", "duration", "segments", "device",
                        "compute_type", "model", "timings", "rtf", "fallback_reason"}
    assert res["language"] == "en"
    assert res["model"] == "base"
    assert res["device"] in ("cpu", "cuda")
    assert 4.0 < res["duration"] < 5.5
    assert set(res["timings"]) == {"queue_s", "load_s", "transcribe_s"}
    seg = res["segments"][0]
    assert set(seg) >= {"id", "start", "end", "text"} and seg["end"] > seg["start"]

    # segment notifications arrive, in order, before the response
    segs = sidecar.notifications("segment", rid)
    assert [s["params"]["segment"] for s in segs] == res["segments"]
    assert all(sidecar.index_of(s) < sidecar.index_of(r) for s in segs)

    # status stages for this request: known names, ends with done (progress 1.0), progress never decreases
    statuses = [m["params"] for m in sidecar.notifications("status", rid)]
    assert all(s["stage"] in STAGES for s in statuses)
    assert statuses[-1]["stage"] == "done" and statuses[-1]["progress"] == 1.0
    assert "Transcription complete!" in statuses[-1]["message"]
    stages = [s["stage"] for s in statuses]
    assert stages.index("transcribing") < stages.index("done")
    progress = [s["progress"] for s in statuses if s["progress"] is not None]
    assert progress == sorted(progress)


@pytest.mark.parametrize("name", ["weather", "numbers", "story"])
def test_fixtures_are_transcribed_within_15_percent_wer(sidecar, name):
    res = sidecar.call("transcribe", {"path": str(AUDIO / f"{name}.flac")})["result"]
    assert wer(fixture_text(name), res["text"]) <= 0.15, res["text"]


def test_video_container_decodes(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "hello.mp4")})["result"]
    assert "speech recognition" in res["text"].lower()


def test_word_timestamps_and_batched(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "weather.flac"), "word_timestamps": True,
                                      "batch_size": 4})["result"]
    words = [w for s in res["segments"] for w in s["words"]]
    assert len(words) >= 10
    assert all(w["end"] >= w["start"] for w in words)
    assert wer(fixture_text("weather"), res["text"]) <= 0.15


def test_translate_task_and_prompt_are_accepted(sidecar):
    res = sidecar.call("transcribe", {"path": str(AUDIO / "hello.flac"), "task": "translate",
                                      "initial_prompt": "Speech recognition test.", "vad_filter": True})
    assert "speech" in res["result"]["text"].lower()


def test_requests_are_answered_while_a_transcription_runs(sidecar):
    ids = [sidecar.send("transcribe", {"path": str(AUDIO / "story.flac"), "beam_size": 5}) for _ in range(3)]
    sidecar.wait_for(lambda m: m.get("method") == "status" and m["params"]["request_id"] == ids[0]
                     and m["params"]["stage"] == "transcribing", 60, "transcribing")
    t0 = time.monotonic()
    r = sidecar.call("gpu_status", timeout=5)
    assert time.monotonic() - t0 < 1.0
    assert r["result"]["queue"]["running"] + r["result"]["queue"]["queued"] >= 1
    t0 = time.monotonic()
    sidecar.call("ping", timeout=5)
    assert time.monotonic() - t0 < 1.0
    for rid in ids:  # and every request still gets its one answer
        assert "result" in sidecar.response(rid, timeout=180)
        assert len(sidecar.responses_with_id(rid)) == 1


def test_cancel_queued_and_running_requests(sidecar):
    running = sidecar.send("transcribe", {"path": str(AUDIO / "story.flac")})
    queued = sidecar.send("transcribe", {"path": str(AUDIO / "story.flac")})
    sidecar.wait_for(lambda m: m.get("method") == "status" and m["params"]["request_id"] == running
                     and m["params"]["stage"] == "transcribing", 60, "transcribing")
    assert sidecar.call("cancel", {"id": queued})["result"] == {"cancelled": True}
    assert sidecar.call("cancel", {"id": running})["result"] == {"cancelled": True}
    for rid in (queued, running):
        r = sidecar.response(rid, timeout=120)
        assert r["error"]["code"] == -32800, r
        assert len(sidecar.responses_with_id(rid)) == 1
    # the engine is still fine
    res = sidecar.call("transcribe", {"path": str(AUDIO / "hello.flac")})["result"]
    assert "speech" in res["text"].lower()


def test_duplicate_in_flight_id_is_refused(sidecar):
    sidecar.send("transcribe", {"path": str(AUDIO / "story.flac")}, id="dup")
    sidecar.send("transcribe", {"path": str(AUDIO / "hello.flac")}, id="dup")
    sidecar.wait_for(lambda m: m.get("id") == "dup" and "error" in m, 60, "duplicate error")
    first = sidecar.wait_for(lambda m: m.get("id") == "dup" and "result" in m, 120, "first result")
    assert "village" in first["result"]["text"].lower()
    errors = [m for m in sidecar.responses_with_id("dup") if "error" in m]
    assert errors[0]["error"]["code"] == -32600


def test_queue_full(spawn):
    sc = spawn(WHISPER_QUEUE_SIZE="1", WHISPER_PRELOAD="0")
    sc.ready()
    ids = [sc.send("transcribe", {"path": str(AUDIO / "story.flac")}) for _ in range(4)]
    kinds = []
    for rid in ids:
        r = sc.response(rid, timeout=180)
        kinds.append(r["error"]["data"]["kind"] if "error" in r else "ok")
    assert "queue_full" in kinds
    assert kinds[0] == "ok"


def test_unavailable_model_fails_fast(spawn):
    sc = spawn(HF_HUB_OFFLINE="")  # not offline: the hub lookup itself must fail fast here
    sc.ready()
    t0 = time.monotonic()
    r = sc.call("transcribe", {"path": str(AUDIO / "hello.flac"), "model": "medium"}, timeout=60)
    assert r["error"]["data"]["kind"] == "model_unavailable", r
    assert "medium" in r["error"]["message"]
    assert time.monotonic() - t0 < 20
    r = sc.call("transcribe", {"path": str(AUDIO / "hello.flac"), "model": "no-such-model"})
    assert r["error"]["code"] == -32602
    assert sc.call("ping")["result"]["pong"]


def test_load_model_warms_a_model_from_a_folder(sidecar, cache_dir):
    r = sidecar.call("load_model", {"model": "base"})["result"]
    assert r["model"] == "base" and r["source"] == "embedded"
    r2 = sidecar.call("load_model", {"model": r["path"]})["result"]
    assert r2["source"] == "local"
    res = sidecar.call("transcribe", {"path": str(AUDIO / "hello.flac"), "model": r["path"]})["result"]
    assert "speech" in res["text"].lower()
