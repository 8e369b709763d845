"""The GPU check and the CPU fallback, end to end through the real sidecar process, on a machine
without a GPU: the test launcher hands the server a fake device count and a fake probe script that
crashes, hangs or passes.
"""

import pytest

from client import AUDIO, HELLO_MAX_WER, fixture_text, wer


def gpu_status_when_settled(sc, timeout=120):
    sc.ready()
    sc.wait_for(lambda m: m.get("method") == "status" and m["params"]["request_id"] is None
                and m["params"]["stage"] in ("fallback",) or
                (m.get("method") == "status" and m["params"]["message"].startswith("Using CUDA")),
                timeout, "device decision")
    return sc.call("gpu_status", timeout=30)["result"]


@pytest.mark.parametrize("behavior,expected", [
    ("abort", ["exit code", "SIGABRT"]),
    ("fastfail", ["3221226505"]),
    ("hang", ["did not finish within 3 s"]),
])
def test_a_crashing_probe_means_cpu_with_the_exit_code(spawn, tmp_path, behavior, expected):
    sc = spawn("--fake-cuda-devices=1", f"--probe={behavior}",
               WHISPER_CACHE_DIR=str(tmp_path), WHISPER_PROBE_TIMEOUT_S="3", WHISPER_PRELOAD="0")
    status = gpu_status_when_settled(sc)
    assert status["device"] == "cpu"
    assert status["verified"] is False
    reason = status["fallback_reason"]
    for word in expected:
        assert word.lower() in reason.lower(), reason
    assert status["verification"]["ok"] is False
    # still serving, on the CPU
    res = sc.call("transcribe", {"path": str(AUDIO / "hello.flac")})["result"]
    assert res["device"] == "cpu" and res["fallback_reason"] == reason
    assert wer(fixture_text("hello"), res["text"]) <= HELLO_MAX_WER


def test_a_verified_gpu_that_then_fails_falls_back_mid_request(spawn, tmp_path):
    # The probe "passes" but there is no GPU: loading the model on CUDA fails, as a broken driver
    # would make it fail after a good check. The request must still be answered, on the CPU.
    sc = spawn("--fake-cuda-devices=1", "--probe=ok",
               WHISPER_CACHE_DIR=str(tmp_path), WHISPER_PRELOAD="0", WHISPER_MODEL="base")
    status = gpu_status_when_settled(sc)
    assert status["device"] == "cuda" and status["verified"] is True
    rid = sc.send("transcribe", {"path": str(AUDIO / "hello.flac")})
    res = sc.response(rid)["result"]
    assert res["device"] == "cpu"
    assert "CUDA failed" in res["fallback_reason"]
    assert wer(fixture_text("hello"), res["text"]) <= HELLO_MAX_WER
    stages = [m["params"]["stage"] for m in sc.notifications("status", rid)]
    assert "fallback" in stages and stages[-1] == "done"
    after = sc.call("gpu_status")["result"]
    assert after["device"] == "cpu" and "CUDA failed" in after["fallback_reason"]


def test_the_verdict_is_cached_between_starts(spawn, tmp_path):
    args = ("--fake-cuda-devices=1", "--probe=abort")
    env = dict(WHISPER_CACHE_DIR=str(tmp_path), WHISPER_PRELOAD="0")
    first = gpu_status_when_settled(spawn(*args, **env))
    assert first["verification"]["cached"] is False
    second = gpu_status_when_settled(spawn(*args, **env))
    assert second["verification"]["cached"] is True
    assert second["fallback_reason"] == first["fallback_reason"]


def test_gpu_status_wait_and_recheck_do_not_block_the_loop(spawn, tmp_path):
    sc = spawn("--fake-cuda-devices=1", "--probe=hang",
               WHISPER_CACHE_DIR=str(tmp_path), WHISPER_PROBE_TIMEOUT_S="4", WHISPER_PRELOAD="0")
    sc.ready()
    waiting = sc.send("gpu_status", {"wait": True})
    assert sc.call("ping", timeout=2)["result"]["pong"]  # answered while the probe hangs
    report = sc.response(waiting, timeout=60)["result"]
    assert report["setup_complete"] is True and report["device"] == "cpu"
    assert report["verification"]["cached"] is False
    rechecking = sc.send("gpu_status", {"recheck": True})
    assert sc.call("ping", timeout=2)["result"]["pong"]
    again = sc.response(rechecking, timeout=60)["result"]
    assert again["verification"]["cached"] is False and again["device"] == "cpu"
