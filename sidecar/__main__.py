"""``python -m sidecar``: serve JSON-RPC on stdio; ``transcribe FILE`` and ``gpu-status`` for people."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    # First of all, before any native library can print: fd 1 belongs to the protocol.
    from .endpoint.stdio import claim_stdout, setup_logging

    writer = claim_stdout()
    from .config import Config

    config = Config.from_env()
    args = sys.argv[1:] if argv is None else argv
    serving = not args or args[0] == "serve"
    setup_logging(config.log_level or ("INFO" if serving else "WARNING"))
    if not serving:
        from . import cli

        return cli.main(args, writer, config)
    from .endpoint.server import Server

    server = Server(config, writer)
    code = server.serve(sys.stdin.buffer)
    sys.stderr.flush()
    # Worker threads may sit inside CTranslate2; don't wait for them at interpreter shutdown.
    import os

    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
