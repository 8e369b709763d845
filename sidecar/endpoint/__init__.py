"""The JSON-RPC 2.0 endpoint: stdio framing, the request envelope, dispatch through jsonrpcserver.

A handler returns a value or a ``concurrent.futures.Future``; a future is answered when it resolves.
Nothing here knows how a transcription runs: that is the engine's (``sidecar/engine/``).
"""
