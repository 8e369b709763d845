"""Under CI=true a skipped test fails the run, unless it is marked ``gpu``.

A test that was skipped tested nothing; on a CI machine that should have everything the tests
need, a skip means something is missing. Tests that need an NVIDIA GPU carry ``@pytest.mark.gpu``
and may skip anywhere. conftest.py imports the hook below.
"""

import os

import pytest


def ci_enabled(env=os.environ):
    """True when the CI variable says so (``true`` or ``1``, any case)."""
    return env.get("CI", "").strip().lower() in ("1", "true")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and ci_enabled()) or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("gpu") is not None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"CI=true: skipped, and not marked gpu ({reason}). A skipped test is not a pass: "
                       "install what it needs, or mark it @pytest.mark.gpu if it needs a GPU.")
