"""What every section gets: the options, the audio (built once, lazily) and where to write."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import fixtures

# Seconds of speech in the generated files: the issue asks for at least 5 minutes in the long one.
LONG_SPEECH_S = 300.0
MEDIUM_SPEECH_S = 60.0
QUICK_LONG_SPEECH_S = 60.0


@dataclass
class Context:
    quick: bool = False
    repeat: Optional[int] = None  # overrides every section's short-clip repeat
    long_repeat: Optional[int] = None  # overrides every section's long-file repeat
    out: Path = fixtures.ROOT / "bench" / "results"
    sidecar_env: dict = field(default_factory=dict)  # --sidecar-env: added to every sidecar started
    peer_dir: Optional[Path] = None  # --whisper-streaming: a copy of ufal/whisper_streaming (live section)
    _cache: dict = field(default_factory=dict)

    def env(self, **extra: str) -> dict:
        """The environment for a sidecar: --sidecar-env, then the section's own settings."""
        return {**self.sidecar_env, **extra}

    def reps(self, full: int, quick: int = 1) -> int:
        """Repeats for short clips: --repeat, else the section's full or quick default."""
        return max(1, self.repeat if self.repeat is not None else (quick if self.quick else full))

    def long_reps(self, full: int, quick: int = 1) -> int:
        return max(1, self.long_repeat if self.long_repeat is not None else (quick if self.quick else full))

    @property
    def audio_dir(self) -> Path:
        return self.out / "audio"

    def short_clips(self) -> list:
        if "short" not in self._cache:
            self._cache["short"] = fixtures.short_clips()
        return self._cache["short"]

    def long(self) -> fixtures.Clip:
        """At least 5 minutes of speech (1 minute with --quick)."""
        if "long" not in self._cache:
            speech = QUICK_LONG_SPEECH_S if self.quick else LONG_SPEECH_S
            name = "long-quick" if self.quick else "long"
            self._cache["long"] = fixtures.concatenated(self.audio_dir, name, speech)
        return self._cache["long"]

    def medium(self) -> Optional[fixtures.Clip]:
        """About a minute, between the clips and the long file; None with --quick (the long one is)."""
        if self.quick:
            return None
        if "medium" not in self._cache:
            self._cache["medium"] = fixtures.concatenated(self.audio_dir, "medium", MEDIUM_SPEECH_S)
        return self._cache["medium"]
