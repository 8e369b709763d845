"""whisper-sidecar: faster-whisper behind JSON-RPC 2.0 on stdio."""

__version__ = "0.1.0"
__all__ = ["__version__"]
