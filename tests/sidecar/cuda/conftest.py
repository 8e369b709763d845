"""Fixtures for the sidecar.cuda tests; helpers live in cudafakes.py."""

from __future__ import annotations

import os
import sys

import pytest

from cudafakes import PLATFORMS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes"))
from fakegpu import verify_kwargs  # noqa: E402


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request) -> str:
    return request.param


@pytest.fixture
def fake_gpu(tmp_path):
    """verify()'s keyword arguments for one fake CUDA device and a private cache folder; called
    with a behaviour (abort, fastfail, hang, ok) the fake probe script runs, else the real probe."""
    return lambda behavior=None: verify_kwargs(tmp_path / "cache", devices=1, behavior=behavior)
