"""verify(): prove the GPU works by encoding in a child process, never in the sidecar."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ._platform import CURRENT
from .cache import cache_key, file_fingerprint, read_verdict, write_verdict
from .devices import device_count, driver_version
from .exit_codes import describe_exit
from .paths import configure

_TAIL_CHARS = 2000
# Where the `sidecar` package lives, so the child imports this same copy.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Verification:
    """The verdict of one GPU check. ``reason`` is None when ok."""

    ok: bool
    exit_code: Optional[int]
    seconds: float
    stderr_tail: str
    cached: bool = False
    reason: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"ok": self.ok, "exit_code": self.exit_code, "seconds": self.seconds,
                "stderr_tail": self.stderr_tail, "cached": self.cached, "reason": self.reason}


@dataclass
class ProbeRun:
    exit_code: Optional[int]
    timed_out: bool
    stderr: str
    seconds: float


def run_probe(argv: Sequence[str], timeout_s: float, env: Mapping[str, str],
              platform=CURRENT) -> ProbeRun:
    """Run the probe child; kill it (and its group) past ``timeout_s``. Never raises."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=dict(env),
                                **platform.child_popen_kwargs())
    except OSError as e:
        return ProbeRun(None, False, f"could not start the GPU check: {e}", 0.0)
    try:
        _, err = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        platform.kill_child(proc)
        _, err = proc.communicate()
        timed_out = True
    text = err.decode("utf-8", errors="replace")[-_TAIL_CHARS:]
    return ProbeRun(proc.returncode, timed_out, text, round(time.monotonic() - start, 3))


def reason_for(run: ProbeRun, exit_code: Optional[int], timeout_s: float) -> Optional[str]:
    """A sentence for a failed check (None when it passed)."""
    if exit_code == 0 and not run.timed_out:
        return None
    what = describe_exit(exit_code, timed_out=run.timed_out, timeout_s=timeout_s)
    if run.timed_out:
        sentence = f"GPU check {what}"
    else:
        crashed = exit_code is not None and (exit_code < 0 or exit_code > 255)
        sentence = f"GPU check {'crashed' if crashed else 'failed'} with {what}"
    last = [line for line in run.stderr.splitlines() if line.strip()]
    if last:
        sentence += f"; last output: {last[-1].strip()[:300]}"
    return sentence + ". Using the CPU; run gpu_status with recheck after fixing it."


# The probe child, before its arguments (--model, --compute-type, --deadline-s).
PROBE_COMMAND: Tuple[str, ...] = (sys.executable, "-m", "sidecar.cuda.probe")

Runner = Callable[[Sequence[str], float, Mapping[str, str]], ProbeRun]


def _probe_argv(model_path: str, compute_type: str, timeout_s: float,
                command: Sequence[str] = PROBE_COMMAND) -> Tuple[str, ...]:
    return (*command, "--model", model_path,
            "--compute-type", compute_type, "--deadline-s", f"{timeout_s + 30:g}")


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env


def _key(model_path: str, compute_type: str, command: Sequence[str]) -> str:
    report = configure()
    return cache_key({
        "ctranslate2": report.ctranslate2_version,
        "driver": driver_version(),
        "libraries": [file_fingerprint(p) for p in report.library_files],
        "model": os.path.abspath(model_path) if os.path.exists(model_path) else model_path,
        "compute_type": compute_type,
        "python": sys.executable,
        "probe": list(command),
    })


def verify(model_path: str, *, cache_folder: Path, compute_type: str = "float16",
           timeout_s: float = 120.0, recheck: bool = False,
           probe_command: Optional[Sequence[str]] = None,
           count_devices: Callable[[], int] = device_count,
           runner: Runner = run_probe) -> Verification:
    """Load ``model_path`` on CUDA and encode 1 s of audio in a child process.

    Args:
        model_path: the model folder (or name) the engine will use on the GPU.
        cache_folder: where the verdict is kept between runs (``Config.cache_dir``).
        compute_type: the CUDA compute type the engine will use.
        timeout_s: the child is killed past this, and the check fails.
        recheck: ignore a cached verdict and run the child again.
        probe_command: the child's command before its arguments; PROBE_COMMAND by default.
        count_devices: how many CUDA devices there are; no child runs when none.
        runner: runs the child (run_probe by default).
    Returns:
        A Verification; ok only when the child exited 0. Never raises.
    """
    try:
        command = tuple(probe_command or PROBE_COMMAND)
        if count_devices() == 0:
            return Verification(False, None, 0.0, "", reason=(
                "no CUDA device (ctranslate2.get_cuda_device_count() is 0): "
                "no NVIDIA GPU, no driver, or a CPU-only ctranslate2"))
        key = _key(model_path, compute_type, command)
        cached = None if recheck else read_verdict(key, cache_folder)
        if cached is not None:
            try:
                return Verification(**{**cached, "cached": True})
            except TypeError:  # a verdict from another version of this module
                pass
        run = runner(_probe_argv(model_path, compute_type, timeout_s, command), timeout_s, _child_env())
        code = run.exit_code
        result = Verification(code == 0 and not run.timed_out, code, run.seconds,
                              run.stderr, reason=reason_for(run, code, timeout_s))
        write_verdict(key, {k: v for k, v in asdict(result).items() if k != "cached"}, cache_folder)
        return result
    except Exception as e:  # noqa: BLE001 - a check must never take the sidecar down
        return Verification(False, None, 0.0, "", reason=f"GPU check could not run: {e!r}")
