"""The JSON-RPC surface of the real sidecar process: framing, codes, bad input, lifecycle."""

import json
import shutil
import time

import pytest

from client import AUDIO


def test_ready_notification_shape(sidecar):
    ready = sidecar.ready()
    assert set(ready["params"]) >= {"pid", "version", "python", "platform"}
    assert ready["params"]["pid"] == sidecar.proc.pid


def test_ping(sidecar):
    r = sidecar.call("ping")
    assert r["result"]["pong"] is True
    assert r["result"]["uptime_s"] >= 0


def _error(sidecar, raw: bytes, timeout=30):
    """Send a raw line; return the next error response with a null id."""
    before = len(sidecar.messages)
    sidecar.send_raw(raw)
    return sidecar.wait_for(lambda m: "error" in m and m.get("id") is None, timeout, "error response", before)


@pytest.mark.parametrize("raw,code", [
    (b"this is not json\n", -32700),
    (b'{"jsonrpc": "2.0", "method": "ping", "id": 1\n', -32700),  # truncated object
    (b"[1, 2, 3]\n", -32600),
    (b'[{"jsonrpc": "2.0", "method": "ping", "id": 1}]\n', -32600),  # a batch
    (b"42\n", -32600),
    (b'"a string"\n', -32600),
    (b"null\n", -32600),
    (b'{"jsonrpc": "1.0", "method": "ping", "id": 1}\n', -32600),
    (b'{"jsonrpc": "2.0", "id": 1}\n', -32600),
    (b'{"jsonrpc": "2.0", "method": "ping", "params": "x", "id": 1}\n', -32600),
    (b"\xff\xfe\x00\x01binary\x80garbage\n", -32700),
])
def test_malformed_lines_get_an_error_and_the_sidecar_keeps_serving(sidecar, raw, code):
    before = len(sidecar.messages)
    sidecar.send_raw(raw)
    err = sidecar.wait_for(lambda m: "error" in m, 30, "error", before)
    assert err["error"]["code"] == code
    assert sidecar.call("ping")["result"]["pong"] is True


def test_a_16_mib_line_is_refused_without_killing_the_loop(sidecar):
    line = b'{"jsonrpc": "2.0", "method": "ping", "id": 77, "params": {"x": "' + b"a" * (16 << 20) + b'"}}\n'
    err = _error(sidecar, line, timeout=60)
    assert err["error"]["code"] == -32600
    assert "too long" in err["error"]["data"]
    assert sidecar.call("ping")["result"]["pong"] is True


def test_unknown_method(sidecar):
    r = sidecar.call("no_such_method")
    assert r["error"]["code"] == -32601


def test_notifications_get_no_response(sidecar):
    sidecar.send("ping", id=None)
    r = sidecar.call("ping")  # answered after the notification would have been
    assert "result" in r
    assert not [m for m in sidecar.messages if m.get("result", {}) and "id" in m and m["id"] is None]


@pytest.mark.parametrize("params,param", [
    ({}, "path"),
    ({"path": 5}, "path"),
    ({"path": "x.wav", "beam_size": -1}, "beam_size"),
    ({"path": "x.wav", "beam_size": "5"}, "beam_size"),
    ({"path": "x.wav", "language": "xx-klingon"}, "language"),
    ({"path": "x.wav", "task": "summarize"}, "task"),
    ({"path": "x.wav", "vad_filter": "yes"}, "vad_filter"),
    ({"path": "x.wav", "device": "tpu"}, "device"),
    ({"path": "x.wav", "batch_size": 0}, "batch_size"),
    ({"path": "x.wav", "bogus": 1}, "bogus"),
])
def test_invalid_params_name_the_param(sidecar, params, param):
    r = sidecar.call("transcribe", params)
    assert r["error"]["code"] == -32602, r
    assert r["error"]["data"]["param"] == param
    assert param in r["error"]["message"]


def test_positional_params_that_do_not_fit_are_invalid(sidecar):
    r = sidecar.call("cancel", [1, 2, 3])
    assert r["error"]["code"] == -32602


def _bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("This is a text file pretending to be audio.\n" * 50)
    truncated = tmp_path / "truncated.flac"
    data = (AUDIO / "story.flac").read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    return {
        "missing": (str(tmp_path / "nope.flac"), "file_not_found"),
        "directory": (str(tmp_path), "not_a_file"),
        "empty": (str(empty), "not_audio"),
        "text_as_wav": (str(text), "not_audio"),
        "truncated_flac": (str(truncated), "not_audio"),
    }


def test_bad_files_answer_with_a_kind_and_a_message(sidecar, tmp_path):
    for name, (path, kind) in _bad_files(tmp_path).items():
        r = sidecar.call("transcribe", {"path": path}, timeout=60)
        assert "error" in r, (name, r)
        err = r["error"]
        assert -32099 <= err["code"] <= -32000, (name, err)
        assert err["data"]["kind"] == kind, (name, err)
        assert path in err["message"] or path in str(err["data"]), (name, err)
    assert sidecar.call("ping")["result"]["pong"] is True


def test_writes_to_fd1_inside_the_process_never_reach_the_protocol(spawn):
    # The real server, with one extra method (from the test launcher) that writes to fd 1.
    sidecar = spawn("--stray-output-method", WHISPER_PRELOAD="0")
    sidecar.ready()
    marker = "STRAY-OUTPUT-%d\n" % time.time_ns()
    r = sidecar.call("_test_write_stdout", {"text": marker})
    assert r["result"]["written"] is True
    sidecar.call("ping")
    assert all(marker.encode().strip() not in line for line in sidecar.raw_lines)
    for line in sidecar.raw_lines:
        json.loads(line)  # every stdout line is protocol
    deadline = time.time() + 5
    while time.time() < deadline and sum(marker.strip() in l for l in sidecar.stderr_lines) < 3:
        time.sleep(0.1)
    # os.write, print and C printf all landed on stderr
    assert sum(marker.strip() in l for l in sidecar.stderr_lines) >= 3


def test_cancel_of_an_unknown_id_is_not_an_error(sidecar):
    r = sidecar.call("cancel", {"id": "never-sent"})
    assert r["result"] == {"cancelled": False}


def test_cancel_needs_an_id(sidecar):
    assert sidecar.call("cancel", {})["error"]["code"] == -32602


def test_shutdown_answers_then_exits_zero(spawn):
    sc = spawn()
    sc.ready()
    r = sc.call("shutdown")
    assert r["result"]["shutting_down"] is True
    assert sc.proc.wait(30) == 0


def test_eof_on_stdin_exits_zero(spawn):
    sc = spawn()
    sc.ready()
    assert sc.close() == 0


def test_gpu_status_reports_device_and_reason(sidecar):
    r = sidecar.call("gpu_status", {"wait": True}, timeout=60)["result"]
    for key in ("device", "compute_type", "model", "model_loaded", "cuda_device_count",
                "ctranslate2_version", "faster_whisper_version", "python", "platform",
                "fallback_reason", "libraries", "verified"):
        assert key in r, key
    if r["cuda_device_count"] == 0:
        assert r["device"] == "cpu"
        assert "no CUDA device" in r["fallback_reason"]
        assert r["compute_type"] == "int8"


def test_gpu_status_rejects_wrong_recheck_type(sidecar):
    assert sidecar.call("gpu_status", {"recheck": "yes"})["error"]["code"] == -32602


def test_force_cpu_is_reported(spawn):
    sc = spawn(FORCE_CPU="1", WHISPER_PRELOAD="0")
    sc.ready()
    r = sc.call("gpu_status", {"wait": True})["result"]
    assert r["device"] == "cpu"
    assert "FORCE_CPU" in r["fallback_reason"]


def test_bad_env_config_fails_fast_with_a_message(spawn):
    sc = spawn(WHISPER_DEVICE="tpu")
    assert sc.proc.wait(30) != 0
    time.sleep(0.2)
    assert any("WHISPER_DEVICE" in line for line in sc.stderr_lines)


@pytest.mark.parametrize("raw,rid", [
    (b'{"jsonrpc": "2.0", "method": "ping", "params": 5, "id": 41}\n', 41),
    (b'{"jsonrpc": "2.0", "method": "ping", "params": "x", "id": "p-x"}\n', "p-x"),
    (b'{"jsonrpc": "2.0", "method": "ping", "params": null, "id": 43}\n', 43),
    (b'{"jsonrpc": "1.0", "method": "ping", "id": "v1"}\n', "v1"),
    (b'{"jsonrpc": "2.0", "method": 7, "id": 45.5}\n', 45.5),
])
def test_an_invalid_envelope_with_a_readable_id_is_answered_with_that_id(sidecar, raw, rid):
    before = len(sidecar.messages)
    sidecar.send_raw(raw)
    r = sidecar.wait_for(lambda m: "error" in m, 30, "error", before)
    assert r["id"] == rid and r["error"]["code"] == -32600, r
    assert sidecar.call("ping")["result"]["pong"] is True


def test_gpu_status_waits_for_the_device_decision_by_default(spawn):
    sc = spawn(WHISPER_PRELOAD="0")
    sc.ready()
    snapshot = sc.send("gpu_status", {"wait": False})
    waited = sc.send("gpu_status")
    assert sc.response(waited, 120)["result"]["setup_complete"] is True
    assert isinstance(sc.response(snapshot, 5)["result"]["setup_complete"], bool)
    assert sc.call("gpu_status", {"wait": "yes"})["error"]["data"]["param"] == "wait"
