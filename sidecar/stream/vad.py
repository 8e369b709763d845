"""Silero VAD (the ONNX model faster-whisper ships) run incrementally: one speech probability per
32 ms window, with the model's recurrent state carried from one call to the next.
"""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np

WINDOW = 512  # samples at 16 kHz: 32 ms
CONTEXT = 64  # samples of the previous window the model sees before each window

_session = None
_session_lock = threading.Lock()


def _shared_session():
    """One ONNX session for every stream: state is passed in and out explicitly, so sharing is safe."""
    global _session
    with _session_lock:
        if _session is None:
            from faster_whisper.vad import get_vad_model

            _session = get_vad_model().session
        return _session


class StreamingVad:
    def __init__(self) -> None:
        self._session = _shared_session()
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Speech probabilities for every whole window completed by ``samples`` (maybe none)."""
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        count = data.size // WINDOW
        self._pending = data[count * WINDOW:].copy()
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        windows = data[: count * WINDOW].reshape(count, WINDOW)
        contexts = np.empty((count, CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        if count > 1:
            contexts[1:] = windows[:-1, -CONTEXT:]
        self._context = windows[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32, copy=False)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return np.asarray(out, dtype=np.float32).reshape(-1)[:count]


def speech_probabilities(samples: np.ndarray, vad: Optional[StreamingVad] = None) -> np.ndarray:
    """Convenience for a whole array (tests and benchmarks)."""
    return (vad or StreamingVad()).feed(samples)
