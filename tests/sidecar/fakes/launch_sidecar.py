"""The real sidecar server, started the way ``python -m sidecar`` starts it, with test collaborators:

    python launch_sidecar.py [--fake-cuda-devices N] [--probe BEHAVIOR] [--stray-output-method]

--fake-cuda-devices: the engine sees N CUDA devices (and, with --probe, the fake probe runs).
--stray-output-method: adds ``_test_write_stdout``, which writes to fd 1 the ways native code does.
Configuration otherwise comes from the environment, as in production.
"""

import argparse
import ctypes
import ctypes.util
import os
import sys


def write_stdout(ctx, text: str = "stray output on fd 1\n"):
    """Write to fd 1 the ways native code does: os.write, print and C printf."""
    from jsonrpcserver import Success

    os.write(1, text.encode())
    print(text, end="")
    if sys.platform != "win32":
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.printf(b"%s", text.encode())
        libc.fflush(None)
    return Success({"written": True})


def main() -> int:
    # As sidecar.__main__ does, before anything native can print: fd 1 belongs to the protocol.
    from sidecar.endpoint.stdio import claim_stdout, setup_logging

    writer = claim_stdout()
    setup_logging("INFO")
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake-cuda-devices", type=int)
    parser.add_argument("--probe", choices=["abort", "fastfail", "hang", "ok"])
    parser.add_argument("--stray-output-method", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fakegpu import fake_gpu
    from sidecar.config import Config
    from sidecar.endpoint.server import Server

    config = Config.from_env()
    gpu = None
    if args.fake_cuda_devices is not None:
        gpu = fake_gpu(config.cache_dir, args.fake_cuda_devices, args.probe)
    server = Server(config, writer, gpu=gpu)
    if args.stray_output_method:
        server.methods["_test_write_stdout"] = write_stdout
    code = server.serve(sys.stdin.buffer)
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
