"""Loaded models, kept warm: at most N at once, least recently used unloaded first."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Tuple

log = logging.getLogger(__name__)

Key = Tuple[str, str, str]  # (model folder, device, compute type)


class ModelCache:
    def __init__(self, loader: Callable[[Key], Any], max_models: int = 2) -> None:
        self._loader = loader
        self._max = max(1, max_models)
        self._models: "OrderedDict[Key, Any]" = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict = {}  # key -> Lock, so two workers never load the same model twice
        self.last_used = time.monotonic()

    def get(self, key: Key) -> Tuple[Any, bool]:
        """The model for ``key`` and whether it had to be loaded now."""
        with self._lock:
            self.last_used = time.monotonic()
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key], False
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key], False
            model = self._loader(key)
            with self._lock:
                self._models[key] = model
                self._models.move_to_end(key)
                while len(self._models) > self._max:
                    old, _ = self._models.popitem(last=False)
                    log.info("unloading model %s on %s (%s): least recently used", *old)
                self._loading.pop(key, None)
                self.last_used = time.monotonic()
            gc.collect()
            return model, True

    def keys(self) -> list:
        with self._lock:
            return list(self._models)

    def drop(self, predicate: Callable[[Key], bool] = lambda k: True) -> int:
        with self._lock:
            gone = [k for k in self._models if predicate(k)]
            for k in gone:
                del self._models[k]
        if gone:
            gc.collect()
        return len(gone)

    def idle_for(self) -> float:
        return time.monotonic() - self.last_used
