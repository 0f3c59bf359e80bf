#!/usr/bin/env bash
# Run HERE (the development machine) before using a lent GPU machine: downloads the wheels of
# qpt's dependencies that the GPU image lacks into .whl/ (git-ignored), for Python 3.12.
# Then carry .whl to the GPU machine and run scripts/gpu_check.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -d .whl \
  kornia kornia-rs open-clip-torch ftfy wcwidth faiss-cpu webdataset braceexpand \
  'typer>=0.29' pydantic pydantic-core annotated-types typing-inspection
ls .whl
