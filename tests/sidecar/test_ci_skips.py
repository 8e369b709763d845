"""ci_skips.py: under CI=true a skip fails unless the test is marked gpu (pytest run as a child)."""

import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

SUITE = textwrap.dedent('''
    import pytest

    def test_passes():
        assert True

    @pytest.mark.skipif(True, reason="no tool here")
    def test_needs_a_tool():
        pass

    def test_skips_inside():
        pytest.skip("missing at run time")

    @pytest.mark.gpu
    def test_needs_a_gpu():
        pytest.skip("no CUDA device")

    @pytest.mark.xfail(reason="known")
    def test_known_failure():
        assert False
''')


def run_suite(tmp_path, ci):
    (tmp_path / "conftest.py").write_text("from ci_skips import pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    env = {**os.environ, "PYTHONPATH": HERE}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_under_ci_a_skip_without_the_gpu_marker_fails(tmp_path):
    done = run_suite(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout
    assert "1 failed" in done.stdout and "1 error" in done.stdout, done.stdout
    assert "CI=true: skipped, and not marked gpu" in done.stdout
    assert "missing at run time" in done.stdout and "no tool here" in done.stdout
    assert "1 skipped" in done.stdout and "1 xfailed" in done.stdout, done.stdout


def test_without_ci_skips_are_skips(tmp_path):
    done = run_suite(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "3 skipped" in done.stdout, done.stdout
