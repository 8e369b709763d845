"""The CUDA→CPU fallback, written once: every caller that runs the model on CUDA (the preload, a
transcription, a live stream's decode) goes through :func:`with_cpu_fallback`.

A CUDA error that the GPU check did not catch (a driver that breaks after a good probe, the GPU out of
memory) moves the engine to the CPU for good, until a ``gpu_status {recheck: true}``, and the work is
run once more on the CPU with a reason that says why.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional, Protocol, TypeVar

from ..errors import CudaError, InvalidParams, SidecarError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Substrings of CTranslate2 / CUDA errors that mean the GPU, not the input, failed.
_CUDA_MARKERS = ("cuda", "cublas", "cudnn", "out of memory", "cufft", "nccl", "gpu")


def is_cuda_failure(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(m in text for m in _CUDA_MARKERS)


class FallsBack(Protocol):
    def fall_back_to_cpu(self, reason: str) -> None: ...


def with_cpu_fallback(engine: FallsBack, on_cuda: bool, attempt: Callable[[Optional[str]], T], *,
                      during: str, announce: Callable[[str, BaseException], None],
                      then: Optional[str] = None) -> T:
    """Run ``attempt(None)``; when it fails with a CUDA error while on CUDA, move the engine to the CPU
    and run ``attempt(reason)`` once more.

    Args:
        engine: switched to the CPU (its ``fall_back_to_cpu``) before the re-run.
        on_cuda: whether the first attempt runs on CUDA; an error on the CPU is never a CUDA failure.
        attempt: the work. Its argument is None the first time, then the fallback reason: the re-run
            must ask for the CPU and report the reason with its result.
        during: what was running, for the reason ("during transcription").
        announce: (reason, error), called once the engine is on the CPU, to tell the clients.
        then: what happens next, appended to the reason ("re-ran on the CPU").

    Returns:
        What the attempt that succeeded returned.

    Raises:
        SidecarError, InvalidParams: from either attempt, unchanged (they are not the GPU's fault).
        CudaError: the CPU re-run failed too; it names both errors.
        Exception: the first attempt's error when it was not a CUDA failure on CUDA.
    """
    try:
        return attempt(None)
    except (SidecarError, InvalidParams):
        raise
    except Exception as e:
        if not on_cuda or not is_cuda_failure(e):
            raise
        reason = f"CUDA failed {during} ({type(e).__name__}: {e})" + (f"; {then}" if then else "")
        log.warning("%s", reason)
        engine.fall_back_to_cpu(reason)
        announce(reason, e)
        try:
            return attempt(reason)
        except SidecarError:
            raise
        except Exception as cpu_error:
            raise CudaError(f"{reason}, and the CPU re-run failed too: {cpu_error}") from cpu_error
