"""CUDA libraries from pip wheels, found on every layout, and a crash-safe GPU check.

Call :func:`configure` before importing ctranslate2. See README.md in this folder.
"""

from .devices import device_count, driver_version, gpus, supported_compute_type
from .paths import configure, ctranslate2_version
from .report import LibraryReport, LibraryStatus
from .verify import Verification, verify

__all__ = [
    "LibraryReport",
    "LibraryStatus",
    "Verification",
    "configure",
    "ctranslate2_version",
    "device_count",
    "driver_version",
    "gpus",
    "supported_compute_type",
    "verify",
]
