#!/usr/bin/env bash
# GPU check of seedlab's PyTorch and Keras-3-on-JAX controls (issue 22), on a GPU machine that
# has PyTorch, JAX and CUDA but no TensorFlow and no network.
#
# Prepare the wheels here first (benchmarks/gpu_wheels.sh), then on the GPU machine, from the
# repository root:
#   bash benchmarks/gpu_check.sh            # wheels from benchmarks/wheels
#   SEEDLAB_WHEELS=/path/to/wheels PYTHON=/usr/bin/python3 bash benchmarks/gpu_check.sh
#   (JOB_TIMEOUT=240 seconds per job; TORCH_DEVICE=cpu to try it on a machine without a GPU)
#
# It makes a virtualenv on top of that Python (--system-site-packages: its torch, jax and CUDA
# are used as they are), installs seedlab WITHOUT TensorFlow from the wheel folder only, starts a
# server and two agents that own GPU 0 (one per example folder), and runs examples/torch_script and examples/keras_jax
# under `none` and `full` with seeds 42:3x2. It prints each job's verdict and checksums, and the
# GPU fingerprint. Everything lives in a temporary folder that is removed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="${SEEDLAB_WHEELS:-$ROOT/benchmarks/wheels}"
PYTHON="${PYTHON:-python3}"
JOB_TIMEOUT="${JOB_TIMEOUT:-240}"   # seconds per job
WORK="$(mktemp -d /tmp/seedlab-gpu-check.XXXXXX)"
PORT="${PORT:-8765}"
PIDS=()
# Keras 3 on JAX everywhere here (with its default, TensorFlow, `import keras` needs TF). JAX
# would take 75% of the GPU's memory per run process; two runs share the GPU here.
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false

cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" != "1" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

step() { echo; echo "== $*"; }

step "machine"
"$PYTHON" --version
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: none"
"$PYTHON" - <<'PYEOF'
import importlib
for name in ("torch", "jax", "tensorflow"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {module.__version__}")
    except ImportError:
        print(f"{name}: not installed")
PYEOF

step "install seedlab without TensorFlow from $WHEELS (no network)"
test -f "$WHEELS/requirements-gpu.txt" || { echo "no $WHEELS/requirements-gpu.txt: run benchmarks/gpu_wheels.sh first"; exit 2; }
VPY="$WORK/venv/bin/python"
if "$PYTHON" -m venv --system-site-packages "$WORK/venv" 2>"$WORK/venv.err"; then
    PIP=("$VPY" -m pip)
else
    # A Python without ensurepip (Debian's without python3-venv): a venv without pip, filled
    # by that Python's own pip.
    cat "$WORK/venv.err"; rm -rf "$WORK/venv"
    "$PYTHON" -m venv --system-site-packages --without-pip "$WORK/venv"
    PIP=("$PYTHON" -m pip --python "$VPY")
fi
# $PYTHON may itself be a virtualenv (e.g. /opt/torch/.venv): --system-site-packages reaches only
# its base interpreter, so its own site-packages (torch, jax, CUDA libraries) are added by a .pth
# file, after the new venv's own folder.
"$PYTHON" -c 'import site, sys; print("\n".join(p for p in site.getsitepackages() if "site-packages" in p or "dist-packages" in p))' \
    > "$("$VPY" -c 'import site; print(site.getsitepackages()[0])')/zz_gpu_python.pth"
"${PIP[@]}" install --quiet --no-index --find-links "$WHEELS" -r "$WHEELS/requirements-gpu.txt"
"${PIP[@]}" install --quiet --no-index --find-links "$WHEELS" --no-deps seedlab
"$VPY" -c "import seedlab, sys; print('seedlab from', seedlab.__file__); assert 'tensorflow' not in sys.modules"
# Keras 3 for the JAX example, from the wheel folder when that Python has none.
"$VPY" -c "import keras" 2>/dev/null || "${PIP[@]}" install --quiet --no-index --find-links "$WHEELS" keras
"$VPY" -c "import torch, jax, keras; print('keras', keras.__version__)"
"$VPY" -c "import torch, jax; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| jax', jax.__version__, jax.default_backend())"

step "project folders: the two examples"
mkdir -p "$WORK/data"
cp -r "$ROOT/examples/torch_script" "$ROOT/examples/keras_jax" "$WORK/"

step "server and two GPU agents"
export SEEDLAB_DATA_DIR="$WORK/data" SEEDLAB_AGENT_TOKEN="gpu-check-token"
(cd "$WORK" && exec "$VPY" -m seedlab.cli server --port "$PORT") >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 60); do
    "$VPY" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/api/v1/health').status_code != 200)" 2>/dev/null && break
    sleep 0.5
    [ "$i" = 60 ] && { echo "server did not start"; cat "$WORK/server.log"; exit 1; }
done
# No TensorFlow zygote to warm (--warm ''): command runs start cold anyway.
# One agent per example: an agent serves the command experiments of the project file in the
# folder it starts in. Both own GPU 0, so a torch run and a JAX run share it.
for name in torch_script keras_jax; do
    (cd "$WORK/$name" && exec "$VPY" -m seedlab.cli agent --server "http://127.0.0.1:$PORT" \
        --name "gpu-$name" --gpus 0 --warm '') >"$WORK/agent-$name.log" 2>&1 &
    PIDS+=($!)
done

step "jobs: torch_script and keras_jax, profiles none and full, seeds 42:3x2"
set +e
timeout $((JOB_TIMEOUT * 4 + 60)) "$VPY" "$ROOT/benchmarks/gpu_check.py" \
    --server "http://127.0.0.1:$PORT" --timeout "$JOB_TIMEOUT" --device "${TORCH_DEVICE:-cuda}"
status=$?
set -e
if [ "$status" != 0 ]; then
    step "logs (exit $status)"
    tail -n 40 "$WORK"/*.log
fi
exit "$status"
