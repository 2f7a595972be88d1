#!/usr/bin/env bash
# Type-checks the CUDA build (`--features cuda`) on a machine without a GPU or CUDA toolkit:
# nvcc and its companions come from PyPI wheels (the recipe of ../shared/cuda-build.md), into
# the ignored cache .cache/cuda. Compiling candle's PTX kernels takes several minutes.
#
#   bash scripts/cuda_check.sh            # cargo check --release --features cuda
#   bash scripts/cuda_check.sh build      # cargo build (linking needs libcuda; see docs/cuda.md)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/cuda"
wheels="$cache/wheels"
cuda="$cache/root"
if [ ! -x "$cuda/nvidia/cu13/bin/nvcc" ]; then
    mkdir -p "$wheels" "$cuda"
    python3 -m pip download --quiet --no-deps -d "$wheels" \
        nvidia-cuda-nvcc nvidia-cuda-crt nvidia-cuda-runtime nvidia-cuda-cccl nvidia-nvvm
    for w in "$wheels"/*.whl; do unzip -q -o "$w" -d "$cuda"; done
    chmod +x "$cuda"/nvidia/cu13/bin/* "$cuda"/nvidia/cu13/nvvm/bin/*
fi
c="$cuda/nvidia/cu13"
export PATH="$c/bin:$PATH" CUDA_HOME="$c" CUDA_PATH="$c"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
nvcc --version | tail -2
cd "$root"
CARGO_TARGET_DIR="$root/target/cuda" cargo "${1:-check}" --release --features cuda --lib --examples
