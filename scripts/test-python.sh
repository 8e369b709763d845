#!/usr/bin/env bash
# The sidecar's pytest suite: on the project's .venv (made by scripts/setup.js), then again on
# Python 3.13 when this machine has one (the reporter's version), in .venv-py313.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=.venv/Scripts/python.exe; fi
echo "== sidecar and repo tests on $($PY --version)"
"$PY" -m pytest tests/sidecar tests/repo "$@"

find_py313() {
  # pyenv's shim answers `command -v` even where 3.13 is not selected: run each candidate to be sure.
  for c in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 \
           "$(command -v python3.13 2>/dev/null || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$c"
      return
    fi
  done
}
PY313=$(find_py313 || true)
if [ -z "$PY313" ]; then
  echo "== Python 3.13 not found on this machine: the 3.13 run is skipped"
  exit 0
fi
stamp="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv-py313/bin/python ] || [ "$(cat .venv-py313/.stamp 2>/dev/null)" != "$stamp" ]; then
  echo "== making .venv-py313 with $PY313"
  "$PY313" -m venv .venv-py313
  .venv-py313/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  echo "$stamp" > .venv-py313/.stamp
fi
echo "== sidecar tests on $(.venv-py313/bin/python --version) (the slow real-wheel CUDA test runs once, above)"
.venv-py313/bin/python -m pytest tests/sidecar -m "not slow" "$@"
