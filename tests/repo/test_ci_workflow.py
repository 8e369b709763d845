""".github/workflows/ci.yml: actionlint finds nothing wrong, and the matrix is the one the project promises.

CI itself cannot run on this machine; this is what can be checked here. actionlint comes from the
`test` extra (a wheel with the binary in it). shellcheck and pyflakes integration is turned off so that
the verdict does not depend on what else a machine has installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def actionlint():
    # The venv's scripts folder first (bin/ or Scripts\), whatever PATH says.
    found = shutil.which("actionlint", path=os.path.dirname(sys.executable)) or shutil.which("actionlint")
    assert found, "actionlint is not installed: pip install -e '.[test]' (scripts/setup.js --test does it)"
    return found


def lint(path):
    return subprocess.run([actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_actionlint_passes_the_workflow():
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # The same file with a typo in a key and an expression that names an unknown matrix entry: if
    # actionlint accepted this, the test above would prove nothing.
    broken = WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "run-on:", 1)
    broken = broken.replace("${{ matrix.node }}", "${{ matrix.nodejs }}", 1)
    target = tmp_path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    target.write_text(broken, encoding="utf-8")
    result = lint(target)
    assert result.returncode != 0
    assert "run-on" in result.stdout and "nodejs" in result.stdout, result.stdout


def test_the_matrix_covers_every_promised_platform():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["test"]
    matrix = job["strategy"]["matrix"]
    assert sorted(matrix["os"]) == ["macos-latest", "ubuntu-latest", "windows-latest"]
    assert sorted(matrix["python"]) == ["3.13", "3.9"]
    assert sorted(matrix["node"]) == ["20", "22"]
    assert job["strategy"]["fail-fast"] is False
    assert job["defaults"]["run"]["shell"] == "bash"
    assert any(step.get("run", "").strip() == "npm test" for step in job["steps"])
