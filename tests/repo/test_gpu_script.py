"""bench/gpu.sh, the prepared GPU check of issue 18: its staging cuts a payload into carried batches
and rejoins it byte for byte (refusing a missing or corrupt piece), and its CPU mode runs every step
(probe, long fixture, streams at once) until it has run on a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_stage

ROOT = Path(__file__).resolve().parents[2]


def _assemble(parts, into, *extra):
    return subprocess.run([sys.executable, "-m", "bench.gpu_stage", "assemble", "--parts", str(parts),
                           "--into", str(into), *extra], cwd=ROOT, capture_output=True, text=True)


def test_staging_cuts_into_small_batches_and_rejoins_byte_for_byte(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    wheel, lib = src / "demo-1.0-py3-none-any.whl", src / "libdemo.so.12"
    wheel.write_bytes(os.urandom(7000))
    lib.write_bytes(b"\x7fELF" + bytes(20000) + os.urandom(3000))  # compressible, as the cuBLAS files are
    out = tmp_path / "stage"
    manifest = gpu_stage.cut([("wheel", wheel, wheel.name), ("lib", lib, f"nvidia/demo/lib/{lib.name}")], out, batch_bytes=4096)
    batches = sorted(out.iterdir())
    assert len(batches) == manifest["batches"] >= 2
    for b in batches:
        assert sum(p.stat().st_size for p in b.iterdir() if p.name != "MANIFEST.json") <= 4096
    parts = tmp_path / "parts"
    parts.mkdir()
    for b in batches[:-1]:  # one batch not yet received
        for p in b.iterdir():
            (parts / p.name).write_bytes(p.read_bytes())
    missing = _assemble(parts, tmp_path / "into", "--check")
    assert missing.returncode != 0 and "not received yet" in missing.stderr
    for p in batches[-1].iterdir():
        (parts / p.name).write_bytes(p.read_bytes())
    done = _assemble(parts, tmp_path / "into")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "into" / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (tmp_path / "into" / "libs" / "nvidia" / "demo" / "lib" / lib.name).read_bytes() == lib.read_bytes()
    piece = next(p for p in parts.iterdir() if p.name.startswith(wheel.name))
    piece.write_bytes(b"x" + piece.read_bytes()[1:])
    corrupt = _assemble(parts, tmp_path / "again")
    assert corrupt.returncode != 0 and "SHA-256" in corrupt.stderr


@pytest.mark.slow
def test_cpu_mode_runs_every_step(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path)}
    run = subprocess.run(["bash", "bench/gpu.sh", "--cpu", "--quick", "--levels", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    result = json.loads((tmp_path / "gpu-run.json").read_text())
    assert result["probe"]["device"] == "cpu" and result["probe"]["ok"]
    assert result["long"]["wer"] < 0.3 and result["long"]["device"] == "cpu"
    one = result["levels"][0]
    assert one["streams"] == 1 and one.get("final_p90_s") and one["final_p90_s"][0] is not None
    assert "Streams per device" in (tmp_path / "gpu-run.md").read_text()
