"""The engine: device state, models, transcription, the CPU fallback, audio and the output formats.

It knows nothing of JSON-RPC framing; the endpoint (``sidecar/endpoint/``) calls it.
"""

from .engine import Engine
from .fallback import is_cuda_failure, with_cpu_fallback

__all__ = ["Engine", "is_cuda_failure", "with_cpu_fallback"]
