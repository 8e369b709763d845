"""The engine's one way to the GPU: ``sidecar.cuda`` with what ``Config`` decided passed down.

The cache folder and the probe command come from the Config; tests build a Gpu with a fake device
count and a fake probe script instead of setting environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from .. import cuda
from ..config import Config
from ..cuda.verify import Runner, run_probe


@dataclass(frozen=True)
class Gpu:
    cache_folder: Path
    probe_command: Optional[Sequence[str]] = None  # None: python -m sidecar.cuda.probe
    count: Callable[[], int] = cuda.device_count
    runner: Runner = run_probe

    @classmethod
    def from_config(cls, config: Config, **collaborators) -> "Gpu":
        return cls(config.cache_dir, config.probe_command, **collaborators)

    def configure(self, refresh: bool = False) -> cuda.LibraryReport:
        return cuda.configure(refresh=refresh)

    def device_count(self) -> int:
        return self.count()

    def gpus(self, count: int) -> List[dict]:
        return cuda.gpus(count)

    def verify(self, model_path: str, *, compute_type: str, timeout_s: float,
               recheck: bool) -> cuda.Verification:
        return cuda.verify(model_path, cache_folder=self.cache_folder, compute_type=compute_type,
                           timeout_s=timeout_s, recheck=recheck, probe_command=self.probe_command,
                           count_devices=self.count, runner=self.runner)
