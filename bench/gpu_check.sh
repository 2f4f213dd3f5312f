#!/bin/sh
# The one script to run on a machine with an NVIDIA GPU: what podforge sees, the gpu-marked tests
# (which fail rather than skip here, since PODFORGE_EXPECT_GPU=1 says the GPU is there), then the
# CPU-only vs --gpu on comparison. Put its output in the closing note and docs/performance.md.
#   sh bench/gpu_check.sh            (PYTHON=path/to/python and MINUTES=2 override the defaults)
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv || true
"$PY" -m podforge.cli doctor
PODFORGE_EXPECT_GPU=1 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests
"$PY" bench/gpu.py --minutes "${MINUTES:-10}"
