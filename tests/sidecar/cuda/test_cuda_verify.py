"""verify(): the probe child crashes, hangs or succeeds (a fake probe script), and the verdict cache."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from sidecar.cuda import cache, verify
from sidecar.cuda.exit_codes import describe_exit
from sidecar.cuda.verify import ProbeRun, reason_for
from fakegpu import effective_exit_code


# --- exit codes, as pure functions (the Windows values tested on any OS) -----------------

@pytest.mark.parametrize("code", [3221226505, -1073740791])
def test_windows_fast_fail_code_both_ways(code):
    text = describe_exit(code)
    assert text.startswith(f"exit code {code} (0xC0000409")
    assert "cuDNN/cuBLAS library failed to load" in text


def test_exit_code_descriptions():
    assert describe_exit(0) is None
    assert "SIGABRT" in describe_exit(-signal.SIGABRT) and "cuDNN" in describe_exit(-6)
    assert describe_exit(134).startswith("exit code 134 (killed by SIGABRT")
    assert "0xC0000135, STATUS_DLL_NOT_FOUND" in describe_exit(3221225781)
    assert "no CUDA device" in describe_exit(3)
    assert describe_exit(None, timed_out=True, timeout_s=2).startswith("did not finish within 2 s")
    assert describe_exit(77) == "exit code 77"


def test_reason_sentence():
    run = ProbeRun(3221226505, False, "loading cudnn_cnn64_9.dll\nCould not load library\n", 1.0)
    reason = reason_for(run, 3221226505, 120)
    assert reason.startswith("GPU check crashed with exit code 3221226505 (0xC0000409")
    assert "last output: Could not load library" in reason
    assert reason_for(ProbeRun(0, False, "", 1.0), 0, 120) is None
    assert reason_for(ProbeRun(1, False, "", 1.0), 1, 120).startswith("GPU check failed with exit code 1")


def test_emulated_exit_code_is_read_back_only_by_the_test_runner(tmp_path):
    err = "whisper-sidecar-probe: emulated exit code 3221226505\n"
    assert effective_exit_code(9, err) == 3221226505
    code = "import sys; sys.stderr.write(%r); sys.exit(9)" % err
    assert verify("/no/model", cache_folder=tmp_path, count_devices=lambda: 1,
                  probe_command=(sys.executable, "-c", code)).exit_code == 9  # production: as it exited
    assert effective_exit_code(1, err) == 1  # low bits disagree: not that exit


# --- the child, for real ------------------------------------------------------------------

def test_no_device_means_no_child_and_says_so(tmp_path):
    result = verify("/no/model", cache_folder=tmp_path, count_devices=lambda: 0)
    assert not result.ok and result.exit_code is None and "no CUDA device" in result.reason
    assert not (tmp_path / cache.VERDICT_FILE).exists()


def test_probe_abort_is_not_verified(fake_gpu):
    result = verify("/no/model", timeout_s=30, **fake_gpu("abort"))
    assert not result.ok and result.exit_code == -signal.SIGABRT
    assert "exit code -6 (killed by SIGABRT" in result.reason
    assert "behaving as 'abort'" in result.stderr_tail


def test_probe_windows_fast_fail_is_not_verified(fake_gpu):
    result = verify("/no/model", timeout_s=30, **fake_gpu("fastfail"))
    assert not result.ok and result.exit_code == 3221226505
    assert "GPU check crashed with exit code 3221226505 (0xC0000409" in result.reason
    assert result.to_dict()["exit_code"] == 3221226505


def test_probe_hang_is_killed_at_the_timeout(fake_gpu):
    start = time.monotonic()
    result = verify("/no/model", timeout_s=2, **fake_gpu("hang"))
    assert time.monotonic() - start < 20
    assert not result.ok and result.seconds >= 2
    assert result.reason.startswith("GPU check did not finish within 2 s and was stopped")
    assert result.exit_code == -signal.SIGKILL


def test_real_probe_without_a_gpu_reports_no_device(fake_gpu):
    # Fake a device in this process only: the child runs the real check and finds none.
    result = verify("/no/model", timeout_s=60, **fake_gpu())
    assert not result.ok and result.exit_code == 3
    assert "exit code 3 (the probe found no CUDA device)" in result.reason


def test_verdict_cache_hit_miss_and_recheck(fake_gpu, tmp_path):
    ok = fake_gpu("ok")
    first = verify("/no/model", timeout_s=30, **ok)
    assert first.ok and first.exit_code == 0 and first.reason is None and not first.cached
    stored = json.loads((tmp_path / "cache" / cache.VERDICT_FILE).read_text())
    assert stored["verdict"]["ok"] is True
    second = verify("/no/model", timeout_s=30, **ok)
    assert second.cached and second.ok and second.seconds == first.seconds
    assert verify("/no/model", timeout_s=30, recheck=True, **ok).cached is False
    # Another input (here the probe command; in life the driver, ctranslate2 or a
    # library file) is another key: a miss, and the new verdict replaces the old one.
    abort = fake_gpu("abort")
    third = verify("/no/model", timeout_s=30, **abort)
    assert not third.cached and not third.ok
    assert verify("/no/model", timeout_s=30, **abort).cached
    assert verify("/other/model", timeout_s=30, **abort).cached is False


def test_cache_key_follows_library_files(tmp_path):
    lib = tmp_path / "libcublas.so.12"
    lib.write_bytes(b"1")
    key = cache.cache_key({"libraries": [cache.file_fingerprint(str(lib))]})
    lib.write_bytes(b"22")
    assert cache.cache_key({"libraries": [cache.file_fingerprint(str(lib))]}) != key


def test_corrupt_cache_file_is_a_miss(tmp_path):
    (tmp_path / cache.VERDICT_FILE).write_text("{not json")
    assert cache.read_verdict("k", tmp_path) is None
    assert cache.write_verdict("k", {"ok": True}, tmp_path)
    assert cache.read_verdict("k", tmp_path) == {"ok": True}
    assert cache.read_verdict("other", tmp_path) is None


def test_no_environment_variable_fakes_a_device(monkeypatch):
    monkeypatch.setenv("WHISPER_SIDECAR_TEST_HOOKS", "1")
    monkeypatch.setenv("WHISPER_SIDECAR_FAKE_CUDA_DEVICES", "4")
    monkeypatch.setenv("WHISPER_SIDECAR_PROBE_BEHAVIOR", "ok")
    from sidecar.cuda import device_count

    assert device_count() == 0  # the real answer on this machine


def test_probe_child_stdin_is_not_the_parents(tmp_path):
    """The child must never read the sidecar's JSON-RPC stdin or write to its stdout."""
    from sidecar.cuda.verify import _probe_argv, run_probe

    code = "import sys; sys.stdout.write('x'); sys.exit(0 if sys.stdin.read() == '' else 5)"
    run = run_probe([sys.executable, "-c", code], 30, dict(os.environ))
    assert run.exit_code == 0
    assert _probe_argv("m", "float16", 5)[1:3] == ("-m", "sidecar.cuda.probe")
