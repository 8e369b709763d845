"""Device count, GPU list, compute types, the catalog and the cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.config import default_cache_dir
from sidecar.cuda import _linux, _windows, devices, gpus, supported_compute_type
from sidecar.cuda._platform import select
from sidecar.cuda.catalog import parse_version, requirement_for


@pytest.mark.parametrize("version, cuda, cublas, cudnn, required", [
    ("3.24.0", 11, 11, 8, True),
    ("4.0.0", 12, 12, 8, True),
    ("4.4.0", 12, 12, 8, True),
    ("4.5.0", 12, 12, 9, True),
    ("4.6.2", 12, 12, 9, True),
    ("4.6.3", 12, 12, 9, False),
    ("4.8.5", 12, 12, 9, False),
])
def test_ctranslate2_requirements(version, cuda, cublas, cudnn, required):
    row = requirement_for(version)
    assert (row.cuda_major, row.cublas_major, row.cudnn_major, row.cudnn_required) == (
        cuda, cublas, cudnn, required)


def test_unknown_versions():
    assert requirement_for("5.0.0") is None and requirement_for("2.9") is None
    assert requirement_for(None) is None and requirement_for("nightly") is None
    assert parse_version("4.5.0.dev1") == (4, 5, 0) and parse_version("4.4") == (4, 4, 0)


def test_platform_selected_once():
    assert select("win32") is _windows and select("linux") is _linux and select("darwin") is _linux


def test_gpus_for_a_given_device_count():
    listed = gpus(2)
    assert [g["index"] for g in listed] == [0, 1] and set(listed[0]) == {"index", "name", "memory_mb"}


def test_no_gpu_here():
    assert devices.device_count() == 0 and gpus() == []


@pytest.mark.parametrize("device, supported, requested, expected", [
    ("cuda", {"float16", "int8_float16", "float32", "int8"}, None, "float16"),
    ("cuda", {"int8_float16", "float32", "int8"}, None, "int8_float16"),
    ("cuda", {"float32"}, None, "float32"),
    ("cuda", {"float16", "int8_float16", "float32"}, "int8_float16", "int8_float16"),
    ("cuda", {"float16", "float32"}, "bfloat16", "float16"),
    ("cuda", set(), None, "float32"),
    ("cpu", {"int8", "int8_float32", "float32"}, None, "int8"),
    ("cpu", {"float32"}, None, "float32"),
    ("cpu", {"int8", "float32"}, "float32", "float32"),
    ("cpu", {"int8", "float32"}, "auto", "int8"),
])
def test_supported_compute_type(monkeypatch, device, supported, requested, expected):
    monkeypatch.setattr(devices, "_supported", lambda d: supported if d == device else set())
    assert supported_compute_type(device, requested) == expected


def test_supported_compute_type_for_real():
    assert supported_compute_type("cpu") == "int8"
    assert supported_compute_type("cuda") == "float32"  # CUDA unusable here: no fp16 claimed


def test_cache_dir():
    # One cache folder, decided in sidecar.config for the models and the GPU verdict alike.
    assert default_cache_dir({"WHISPER_CACHE_DIR": "/x/y"}) == Path("/x/y")
    assert default_cache_dir({"WHISPER_CACHE_DIR": "~/x"}) == Path.home() / "x"
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}, "linux") == Path("/xdg/whisper-sidecar")
    assert default_cache_dir({}, "linux") == Path.home() / ".cache" / "whisper-sidecar"
    local = r"C:\Users\me\AppData\Local"
    assert str(default_cache_dir({"LOCALAPPDATA": local}, "win32")).startswith(local)
    assert str(default_cache_dir({"LOCALAPPDATA": local}, "win32")).endswith("whisper-sidecar")
