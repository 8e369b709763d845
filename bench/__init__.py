"""Benchmarks for whisper-sidecar: what the sidecar costs, what it saves, and the fastest settings.

Run ``python -m bench all`` (or one section: ``overhead``, ``oldway``, ``batching``, ``startup``,
``memory``, ``concurrency``, ``gpu``); ``--quick`` for a smoke run. See bench/README.md.
"""
