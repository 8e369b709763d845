#!/usr/bin/env bash
# The GPU check, as one prepared script (issue 18). On a bare NVIDIA machine with no network:
#   bash bench/gpu.sh receive .gpu-stage/batch-NN   # once per batch made by `python3 -m bench.gpu_stage make`
#   bash bench/gpu.sh [gpurun options]              # stage, prove the probe, transcribe, ramp live streams
# On any machine, the same steps on the CPU (the tests run this):
#   bash bench/gpu.sh --cpu [--quick] [gpurun options]
# Figures go to $OUT (the device tool's folder) or bench/results; paste them into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE="${WHISPER_GPU_STAGE:-/tmp/whisper-gpu}"
OUT_DIR="${OUT:-bench/results}"
LIMIT_S="${GPU_SH_LIMIT_S:-470}"   # the whole run stays inside 8 minutes

if [ "${1:-}" = "receive" ]; then
  from="${2:?usage: bench/gpu.sh receive DIR}"
  mkdir -p "$STAGE/parts"
  cp "$from"/* "$STAGE/parts/"
  echo "gpu.sh: $(ls "$STAGE/parts" | grep -c part) pieces received in $STAGE/parts"
  python3 -m bench.gpu_stage assemble --check --parts "$STAGE/parts" --into "$STAGE" 2>&1 | tail -1 || true
  exit 0
fi

if [ "${1:-}" = "--cpu" ]; then
  shift
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else node scripts/setup.js --test >&2; PY=.venv/bin/python; fi
  echo "== gpu.sh on the CPU (load $(cut -d' ' -f1-3 /proc/loadavg))"
  exec timeout "$LIMIT_S" "$PY" -m bench.gpurun --device cpu --out "$OUT_DIR" "$@"
fi

echo "== 1. stage (load $(cut -d' ' -f1-3 /proc/loadavg))"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ ! -d "$STAGE/site" ]; then
  python3 -m bench.gpu_stage assemble --parts "$STAGE/parts" --into "$STAGE"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$STAGE/site" "$STAGE"/wheels/*.whl
  cp -r "$STAGE/libs/nvidia" "$STAGE/site/"
fi
# The sidecar finds cuBLAS in site folders on sys.path itself, as it does in a user's venv.
export PYTHONPATH="$STAGE/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "== 2-4. probe, long fixture, live streams at once"
timeout "$LIMIT_S" python3 -m bench.gpurun --device cuda --out "$OUT_DIR" "$@"
