"""One module per figure of issue 6. Each has ``NAME``, ``TITLE``, ``run(ctx) -> dict`` (JSON-able)
and ``markdown(result) -> str``."""

from . import batching, concurrency, gpu, live, memory, oldway, overhead, startup

SECTIONS = {m.NAME: m for m in (overhead, oldway, batching, startup, memory, concurrency, gpu, live)}
