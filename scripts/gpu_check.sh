#!/usr/bin/env bash
# One short check on a GPU machine (about 5-6 minutes): the CUDA tests and the GPU speed
# benchmarks, logged under ${OUT:-gpu_out}/ (8 files). Prepare with scripts/gpu_wheels.sh.
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
  # JPEG on CUDA against the CPU codec, per stage (encoder, decoder), mean |difference|
  python3 - <<'PY'
import torch
from torchvision.io import decode_jpeg, encode_jpeg
from bench.speed.degrade_speed import photo_batch
u8 = photo_batch(8).mul(255).round().to(torch.uint8)
for q in (24, 75):
    cpu_bytes = encode_jpeg(list(u8), quality=q)
    g = u8.cuda(); torch.cuda.synchronize()
    gpu_bytes = [b.cpu() for b in encode_jpeg(list(g), quality=q)]
    dec = lambda bs, dev: torch.stack([d.cpu() for d in decode_jpeg(bs, device=dev)]).float()
    ref = dec(cpu_bytes, "cpu")
    for name, y in [("gpu enc + cpu dec", dec(gpu_bytes, "cpu")),
                    ("cpu enc + gpu dec", dec(cpu_bytes, "cuda")),
                    ("gpu enc + gpu dec", dec(gpu_bytes, "cuda"))]:
        print(f"jpeg q{q} {name}: mean |diff| vs cpu/cpu {float((y - ref).abs().mean()):.3f}/255,"
              f" vs original {float((y - u8.float()).abs().mean()):.2f}/255"
              f" (cpu/cpu {float((ref - u8.float()).abs().mean()):.2f})")
PY
} 2>&1 | tee "$OUT/gpu.txt"
timeout 200 python3 -m pytest -p no:cacheprovider -o addopts="" -m gpu -q tests 2>&1 | tee "$OUT/pytest_gpu.log" | tail -n 4
speed() { timeout "$1" python3 -m qpt bench speed degrade "${@:2}" --json; }
{ speed 60 --device cuda > "$OUT/degrade_b64.json"
  speed 60 --device cuda --batch 256 > "$OUT/degrade_b256.json"
  speed 120 --device cuda --batch 1024 --repeats 2 > "$OUT/degrade_b1024.json"
  speed 90 --device cuda --per-op > "$OUT/degrade_per_op.json"
  speed 60 --device cpu > /dev/null
  timeout 170 python3 -m qpt bench speed pretrain --device cuda --json > "$OUT/pretrain.json"
} 2> "$OUT/speed.log"
grep -v '^[│┌└├]' "$OUT/speed.log" | tail -n 45
