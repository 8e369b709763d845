"""A stand-in for ``python -m sidecar.cuda.probe``: misbehaves the way a broken GPU check does.

    python fake_probe.py BEHAVIOR --model PATH --compute-type T --deadline-s S

BEHAVIOR is abort (SIGABRT, as a missing cuDNN sub-library), fastfail (Windows' 0xC0000409), hang,
or ok. Tests name it as the sidecar's probe command (``Config.probe_command``).
"""

import os
import sys
import time

# POSIX keeps 8 bits of an exit code, so the fastfail probe also writes the full code;
# fakegpu.emulating_runner reads it back.
EMULATED_EXIT_MARKER = "whisper-sidecar-probe: emulated exit code "
FASTFAIL_EXIT_CODE = 3221226505  # 0xC0000409, STATUS_STACK_BUFFER_OVERRUN on Windows


def main(behavior: str) -> int:
    print(f"whisper-sidecar-probe: test hook: behaving as {behavior!r}", file=sys.stderr, flush=True)
    if behavior == "abort":
        os.abort()
    if behavior == "fastfail":
        code = FASTFAIL_EXIT_CODE
        print(f"{EMULATED_EXIT_MARKER}{code}", file=sys.stderr, flush=True)
        os._exit(code if os.name == "nt" else code & 0xFF)
    if behavior == "hang":
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
