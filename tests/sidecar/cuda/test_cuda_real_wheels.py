"""The real nvidia-cublas-cu12 / nvidia-cudnn-cu12 wheels, and (where there is one) a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from cudafakes import REPO, run_python

WHEELS = REPO / ".cache" / "cuda-wheels"  # git-ignored; reused between runs
MARKER = WHEELS / ".complete"
REQUIREMENTS = ["nvidia-cublas-cu12", "nvidia-cudnn-cu12>=9,<10"]


@pytest.fixture(scope="session")
def cuda_wheels():
    """The two wheels pip-installed into .cache/cuda-wheels (once; ~1.3 GB, ~2 GB on disk)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the real-wheel test checks Linux .so files")
    if not MARKER.exists():
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
             "--upgrade", "--target", str(WHEELS), *REQUIREMENTS],
            capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            pytest.fail(f"pip install of the CUDA wheels failed:\n{result.stderr[-3000:]}")
        MARKER.write_text(" ".join(REQUIREMENTS) + f"\ninstalled in {time.monotonic() - start:.0f} s\n")
    return WHEELS


@pytest.mark.slow
def test_real_wheels_are_found_and_loaded(cuda_wheels):
    code = """
        import json, logging
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        from sidecar import cuda
        report = cuda.configure().to_dict()
        count = cuda.device_count()
        import tempfile
        verification = cuda.verify("/unused/model", cache_folder=tempfile.gettempdir()).to_dict()
        maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line})
        print(json.dumps({"report": report, "count": count, "verification": verification, "maps": maps}))
    """
    result = run_python(code, {"PYTHONPATH": str(cuda_wheels)}, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    report, mapped = out["report"], {os.path.basename(p) for p in out["maps"]}
    cublas, cudnn = report["libraries"]["cublas"], report["libraries"]["cudnn"]
    wheel_lib = cuda_wheels / "nvidia"

    assert report["paths_configured"] is True, report["reason"]
    assert cublas["dir"] == str(wheel_lib / "cublas" / "lib") and cublas["loaded"]
    assert cublas["files"] == ["libcublasLt.so.12", "libcublas.so.12"]
    assert cudnn["dir"] == str(wheel_lib / "cudnn" / "lib") and cudnn["loaded"]
    on_disk = sorted(n for n in os.listdir(wheel_lib / "cudnn" / "lib") if n.endswith(".so.9"))
    assert sorted(cudnn["files"]) == on_disk and cudnn["files"][-1] == "libcudnn.so.9"
    rtc = "libcudnn_engines_runtime_compiled.so.9"
    has_driver = "libcuda.so.1" in mapped
    if not has_driver:
        assert "needs the NVIDIA driver" in cudnn["not_loaded"][rtc]
    assert set(cublas["files"]) <= mapped
    assert set(on_disk) - set(cudnn["not_loaded"]) <= mapped
    assert "GPU library paths configured (2 paths)" in result.stderr
    assert f"cuBLAS: {wheel_lib / 'cublas' / 'lib'}" in result.stderr
    assert f"cuDNN: {wheel_lib / 'cudnn' / 'lib'}" in result.stderr
    if not has_driver:
        assert out["count"] == 0
        assert out["verification"]["ok"] is False
        assert "no CUDA device" in out["verification"]["reason"]


@pytest.mark.gpu
def test_verify_succeeds_on_a_gpu(tmp_path):
    """Needs an NVIDIA GPU; WHISPER_SIDECAR_GPU_TEST_MODEL may name a model folder (default: embedded base)."""
    from sidecar.cuda import device_count, verify

    if device_count() == 0:
        pytest.skip("no CUDA device on this machine")
    model = os.environ.get("WHISPER_SIDECAR_GPU_TEST_MODEL")
    if not model:  # the embedded base model, joined into the temp cache
        from sidecar.engine.models import materialize_embedded

        model = str(materialize_embedded(tmp_path))
    result = verify(model, recheck=True, cache_folder=tmp_path)
    assert result.ok, result.reason


@pytest.mark.slow
def test_the_sidecar_reports_the_real_wheels_and_why_it_is_on_the_cpu(cuda_wheels, tmp_path):
    """The whole process, as a relay would see it: libraries named, device and reason."""
    sys.path.insert(0, str(REPO / "tests" / "sidecar"))
    from client import Sidecar

    sc = Sidecar(env={"PYTHONPATH": str(cuda_wheels), "WHISPER_CACHE_DIR": str(tmp_path),
                      "WHISPER_PRELOAD": "0"})
    try:
        sc.ready()
        sc.wait_for(lambda m: m.get("method") == "status" and m["params"]["stage"] in ("fallback", "gpu_setup")
                    and m["params"]["message"].startswith("Using"), 120, "device decision")
        status = sc.call("gpu_status")["result"]
    finally:
        sc.close()
    assert status["paths_configured"] is True
    assert status["libraries"]["cublas"]["loaded"] and status["libraries"]["cudnn"]["loaded"]
    assert "libcublas.so.12" in status["libraries"]["cublas"]["files"]
    assert status["cuda_major_needed"] == 12
    if status["cuda_device_count"] == 0:
        assert status["device"] == "cpu"
        assert "no CUDA device" in status["fallback_reason"]
    stderr = "".join(sc.stderr_lines)
    assert "GPU library paths configured (2 paths)" in stderr
