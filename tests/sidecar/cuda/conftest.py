"""Fixtures for the sidecar.cuda tests; helpers live in cudafakes.py."""

from __future__ import annotations

import pytest

from cudafakes import PLATFORMS


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request) -> str:
    return request.param


@pytest.fixture
def hooks_env(monkeypatch, tmp_path):
    """Test hooks on, one fake CUDA device, a private cache folder."""
    monkeypatch.setenv("WHISPER_SIDECAR_TEST_HOOKS", "1")
    monkeypatch.setenv("WHISPER_SIDECAR_FAKE_CUDA_DEVICES", "1")
    monkeypatch.setenv("WHISPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WHISPER_SIDECAR_PROBE_BEHAVIOR", raising=False)
    return monkeypatch
