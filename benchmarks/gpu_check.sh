#!/usr/bin/env bash
# The GPU check (make gpu-check): the CUDA tests, the bench's GPU rows, chapters 1-6 in the full
# profile, and RESULTS.md's GPU section. What it does, and how it goes on over several calls:
# benchmarks/gpu_check.py. This wrapper only picks the Python: the checkout's .venv when it has
# torch (make setup, CI), else $PYTHON, else python3 (a lent GPU machine's own).
#   bash benchmarks/gpu_check.sh [--budget SECONDS] [--data PATH] [--rehearsal]
#   GPU_CHECK_REHEARSAL=1 bash benchmarks/gpu_check.sh      # rehearse it on the CPU, training cut short
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch" 2>/dev/null; then
  py=.venv/bin/python
else
  py=${PYTHON:-python3}
fi
exec "$py" benchmarks/gpu_check.py "$@"
