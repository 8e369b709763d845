"""Pick the platform module once; everything else receives it as a parameter."""

from __future__ import annotations

import sys
from types import ModuleType


def select(platform: str = sys.platform) -> ModuleType:
    """The module with the loader functions for ``platform`` (a ``sys.platform`` value)."""
    if platform == "win32":
        from . import _windows

        return _windows
    # macOS and other POSIX systems have no CUDA builds of ctranslate2; the Linux
    # search simply finds nothing there and the report says so.
    from . import _linux

    return _linux


CURRENT = select()
