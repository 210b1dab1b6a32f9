#!/usr/bin/env bash
# Build the wheel folder benchmarks/gpu_check.sh installs from, on a machine WITH network (or a
# package mirror): seedlab's wheel plus every dependency a GPU machine lacks, minus TensorFlow,
# NumPy and SciPy (that machine has PyTorch, JAX and so NumPy and SciPy; TensorFlow is left out
# on purpose: seedlab's PyTorch/JAX path must work without it).
#
#   benchmarks/gpu_wheels.sh [OUT_DIR]        # default: benchmarks/wheels (git-ignored)
#   PYTHON_VERSION=3.12 benchmarks/gpu_wheels.sh   # the GPU machine's Python, when it differs
#
# Copy OUT_DIR next to benchmarks/gpu_check.sh on the GPU machine (or pass its path as
# SEEDLAB_WHEELS there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/benchmarks/wheels}"
PY="${PY:-python3}"
PYTHON_VERSION="${PYTHON_VERSION:-$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}"
mkdir -p "$OUT"
rm -f "$OUT"/*.whl "$OUT"/requirements-gpu.txt

echo "== seedlab wheel (no dependencies) -> $OUT"
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$OUT" "$ROOT"

# seedlab's runtime dependencies without TensorFlow, plus NVML for the GPU fingerprint.
"$PY" - "$ROOT/pyproject.toml" "$OUT/requirements-gpu.txt" <<'PYEOF'
import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
keep = [d for d in deps if not d.lower().startswith(("tensorflow", "numpy", "scipy"))]
keep.append("nvidia-ml-py>=12")
open(sys.argv[2], "w").write("\n".join(keep) + "\n")
PYEOF
echo "== dependencies for Python $PYTHON_VERSION (manylinux x86_64 wheels only):"
cat "$OUT/requirements-gpu.txt"
"$PY" -m pip download --quiet --only-binary=:all: --dest "$OUT" \
    --python-version "$PYTHON_VERSION" --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_28_x86_64 --platform any \
    -r "$OUT/requirements-gpu.txt"
# Keras 3 for examples/keras_jax, installed there only when that Python lacks it.
"$PY" -m pip download --quiet --only-binary=:all: --dest "$OUT" \
    --python-version "$PYTHON_VERSION" --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_28_x86_64 --platform any \
    "keras>=3.5"
# Their own NumPy/SciPy pins are already met on the GPU machine; they only add weight here.
rm -f "$OUT"/numpy-*.whl "$OUT"/scipy-*.whl
echo "== $(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1) in $OUT"
