"""The Node side of the overhead figures: ``node bench/node_overhead.js --serve`` as a child."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from .fixtures import ROOT

SCRIPT = Path(__file__).with_name("node_overhead.js")


def unavailable() -> Optional[str]:
    """Why the Node figures cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (ROOT / "node_bridge" / "index.js").is_file():
        return "node_bridge/ is not there yet"
    return None


class NodeSide:
    def __init__(self, env: Optional[dict] = None) -> None:
        env = {**os.environ, **(env or {}), "WHISPER_SIDECAR_PYTHON": sys.executable}
        self._stderr = tempfile.TemporaryFile(mode="w+")  # a file, so a chatty child never blocks
        self.proc = subprocess.Popen(["node", str(SCRIPT), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(ROOT),
                                     text=True)
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"node_overhead.js did not start: {self.info}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            self._stderr.seek(0)
            raise RuntimeError(f"node_overhead.js exited ({self.proc.returncode}): {self._stderr.read()[-2000:]}")
        return json.loads(line)

    def transcribe(self, path: str) -> dict:
        """``{wall_s, duration, text, timings}`` measured in Node around ``sidecar.transcribe()``."""
        self.proc.stdin.write(json.dumps({"path": path}) + "\n")
        self.proc.stdin.flush()
        out = self._read()
        if "error" in out:
            raise RuntimeError(f"node transcribe failed: {out['error']}")
        return out

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
