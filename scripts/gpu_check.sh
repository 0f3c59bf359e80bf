#!/usr/bin/env bash
# One short check on a GPU machine (each step has its own timeout): the CUDA tests and the
# GPU speed benchmarks, logged under ${OUT:-gpu_out}/ (10 files). Prepare with scripts/gpu_wheels.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'kornia', kornia.__version__)"
  lscpu | grep -E 'Model name|^CPU\(s\)'
} 2>&1 | tee "$OUT/gpu.txt"
timeout 200 python3 -m pytest -p no:cacheprovider -o addopts="" -m gpu -q tests 2>&1 | tee "$OUT/pytest_gpu.log" | tail -n 4
speed() { timeout "$1" python3 -m qpt bench speed degrade "${@:2}" --json; }
{ speed 60 --device cuda > "$OUT/degrade_b64.json"
  speed 60 --device cuda --batch 256 > "$OUT/degrade_b256.json"
  speed 120 --device cuda --batch 1024 --repeats 2 > "$OUT/degrade_b1024.json"
  speed 60 --device cuda --threads 0 > "$OUT/degrade_b64_default_threads.json"
  speed 90 --device cuda --per-op > "$OUT/degrade_per_op.json"
  speed 60 --device cpu > "$OUT/degrade_cpu.json"
  speed 90 --device cpu --threads 0 > "$OUT/degrade_cpu_default_threads.json"
  timeout 170 python3 -m qpt bench speed pretrain --device cuda --json > "$OUT/pretrain.json"
} 2> "$OUT/speed.log"
grep -v '^[│┌└├]' "$OUT/speed.log" | tail -n 45
