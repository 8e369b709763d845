import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from client import LAUNCHER, Sidecar  # noqa: E402
from ci_skips import pytest_runtest_makereport  # noqa: E402,F401  (CI=true: a skip not marked gpu fails)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One model cache for the session: the embedded model is joined once."""
    return str(tmp_path_factory.mktemp("whisper-cache"))


@pytest.fixture(scope="session")
def sidecar_env(cache_dir):
    return {"WHISPER_CACHE_DIR": cache_dir, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def sidecar(sidecar_env):
    """A real sidecar shared by a test module."""
    sc = Sidecar(env=sidecar_env)
    sc.ready()
    yield sc
    sc.close()


@pytest.fixture
def spawn(sidecar_env):
    """Spawn a fresh sidecar with extra env; closed after the test."""
    started = []

    def _spawn(*args, **env):
        """``python -m sidecar``; with ARGS, the test launcher (fakes/launch_sidecar.py) with them."""
        sc = Sidecar(env={**sidecar_env, **env}, args=args, launcher=LAUNCHER if args else None)
        started.append(sc)
        return sc

    yield _spawn
    for sc in started:
        if sc.proc.poll() is None:
            sc.proc.kill()
            sc.proc.wait()
