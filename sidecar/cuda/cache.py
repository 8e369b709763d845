"""The GPU verdict kept between runs, in the cache folder the caller names (``Config.cache_dir``)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

VERDICT_FILE = "gpu-verification.json"


def cache_key(parts: Mapping[str, Any]) -> str:
    """A stable hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_fingerprint(path: str) -> Dict[str, Any]:
    try:
        st = os.stat(path)
    except OSError:
        return {"path": path, "size": None, "mtime_ns": None}
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_verdict(key: str, folder: Path) -> Optional[Dict[str, Any]]:
    """The verdict stored under ``key``, or None (missing, other key, unreadable)."""
    path = Path(folder) / VERDICT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    verdict = data.get("verdict")
    return verdict if isinstance(verdict, dict) else None


def write_verdict(key: str, verdict: Dict[str, Any], folder: Path) -> bool:
    """Store one verdict atomically (temp file, then rename). False if it could not."""
    folder = Path(folder)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".verdict-", dir=str(folder))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"key": key, "verdict": verdict}, f, indent=1)
        os.replace(tmp, folder / VERDICT_FILE)
    except (OSError, TypeError, ValueError):
        if tmp and os.path.exists(tmp):
            os.remove(tmp)
        return False
    return True
