"""Models stay warm, at most WHISPER_MAX_MODELS at once, and unload after WHISPER_IDLE_UNLOAD_S."""

import shutil
import time

from client import AUDIO


def loaded(sc):
    return sc.call("gpu_status")["result"]["loaded_models"]


def test_least_recently_used_model_is_unloaded(spawn, tmp_path, cache_dir):
    sc = spawn(WHISPER_MAX_MODELS="1", WHISPER_PRELOAD="0")
    sc.ready()
    first = sc.call("load_model", {"model": "base"})["result"]
    copy = tmp_path / "base-copy"
    shutil.copytree(first["path"], copy)
    assert [m["path"] for m in loaded(sc)] == [first["path"]]
    sc.call("load_model", {"model": str(copy)})
    assert [m["path"] for m in loaded(sc)] == [str(copy)]  # the first one made room
    res = sc.call("transcribe", {"path": str(AUDIO / "hello.flac"), "model": "base"})["result"]
    assert "speech" in res["text"].lower()
    assert [m["path"] for m in loaded(sc)] == [first["path"]]


def test_idle_models_are_unloaded_and_come_back(spawn):
    sc = spawn(WHISPER_IDLE_UNLOAD_S="1", WHISPER_PRELOAD="0")
    sc.ready()
    sc.call("transcribe", {"path": str(AUDIO / "hello.flac")})
    deadline = time.monotonic() + 20
    while loaded(sc) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert loaded(sc) == []
    res = sc.call("transcribe", {"path": str(AUDIO / "hello.flac")})["result"]
    assert "speech" in res["text"].lower()


def test_long_audio_is_batched_by_default_short_audio_is_not(spawn):
    sc = spawn(WHISPER_BATCH_THRESHOLD_S="10", WHISPER_BATCH_SIZE="4", WHISPER_PRELOAD="0")
    sc.ready()
    long = sc.call("transcribe", {"path": str(AUDIO / "story.flac")})["result"]  # 16 s
    assert long["batch_size"] == 4
    assert "village" in long["text"].lower()
    short = sc.call("transcribe", {"path": str(AUDIO / "hello.flac")})["result"]  # 5 s
    assert short["batch_size"] is None
    asked_off = sc.call("transcribe", {"path": str(AUDIO / "story.flac"), "vad_filter": False})["result"]
    assert asked_off["batch_size"] is None  # batching needs VAD: an explicit "no VAD" stays sequential
