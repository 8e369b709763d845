"""Live streams: bytes in as they arrive, partial and final segments out while the audio plays."""

from .manager import StreamManager
from .session import StreamOptions

__all__ = ["StreamManager", "StreamOptions"]
