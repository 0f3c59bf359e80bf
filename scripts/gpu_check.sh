#!/usr/bin/env bash
# One short check on a GPU machine (about 6-8 minutes): the CUDA tests and the GPU speed
# benchmarks, everything logged under ${OUT:-gpu_out}/. Prepare with scripts/gpu_wheels.sh.
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
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"
timeout 240 python3 -m pytest -p no:cacheprovider -o addopts="" -m gpu -q tests 2>&1 | tee "$OUT/pytest_gpu.log"
timeout 150 python3 -m qpt bench speed degrade --device cuda --json > "$OUT/degrade_speed.json" 2> "$OUT/degrade_speed.log"
timeout 200 python3 -m qpt bench speed pretrain --device cuda --json > "$OUT/pretrain_speed.json" 2> "$OUT/pretrain_speed.log"
tail -n 5 "$OUT"/*.log
