#!/usr/bin/env bash
# Installs mer_edge and its runtime dependencies on a fresh machine, offline-capable models included.
#
#   bash scripts/install.sh            # runtime (no torch), ONNX Runtime for the CPU
#   bash scripts/install.sh --train    # + PyTorch (CPU wheel) and the model-building extra
#   bash scripts/install.sh --test     # + pytest
#   bash scripts/install.sh --gpu      # ONNX Runtime with CUDA/TensorRT (onnxruntime-gpu) instead
#   bash scripts/install.sh --tensorrt # --gpu + cuda-python for the native TensorRT backend
#
# MediaPipe 0.10.14 is the newest release whose wheel bundles the face detection and
# landmark models its legacy FaceMesh runs offline (>= 0.10.30 ship none).  Its metadata
# pins jax and opencv-contrib-python, neither of which FaceMesh needs, so it is installed
# with --no-deps; setup.py lists the dependencies it really has.
#
# --gpu: onnxruntime (CPU) and onnxruntime-gpu (or NVIDIA's Jetson wheel) are two
# distributions of one 'onnxruntime' package, and the last installed wins.  So --gpu
# installs mer_edge without its dependencies, then setup.py's requirements except
# onnxruntime, and keeps an ONNX Runtime that already has the CUDA provider (on a Jetson:
# install NVIDIA's wheel first); otherwise it installs onnxruntime-gpu from PyPI, removing
# the CPU build first.  PyPI's newest onnxruntime-gpu may need a newer CUDA than the
# machine has: MER_EDGE_ORT_GPU='onnxruntime-gpu==1.22.*' (for example) picks the release.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=()
gpu=0
for arg in "$@"; do
  case "$arg" in
    --train) extras+=(train) ;;
    --test) extras+=(test) ;;
    --gpu) gpu=1 ;;
    --tensorrt) gpu=1; extras+=(tensorrt) ;;
    *) echo "install.sh: unknown option $arg (use --train, --test, --gpu, --tensorrt)" >&2; exit 2 ;;
  esac
done
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

# The interpreter named by $PYTHON (default python3) runs and is one setup.py accepts.
check_python() {
  local version
  if ! version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    echo "install.sh: error: $PY does not run as a Python interpreter (set PYTHON to one)" >&2
    exit 2
  fi
  case "$version" in
    3.10|3.11|3.12) ;;
    *) echo "install.sh: error: $PY is Python $version; mer_edge needs 3.10 to 3.12 (set PYTHON" \
            "to one, e.g. a virtual environment's bin/python)" >&2
       exit 2 ;;
  esac
}
check_python

# setup.py's requirements (base + the chosen extras) other than ONNX Runtime, one a line;
# with --onnxruntime, the ONNX Runtime requirement itself.
requirements() {
  "$PY" - "$@" <<'EOF'
import re
import sys
from importlib.metadata import requires

want_runtime = sys.argv[1:2] == ["--onnxruntime"]
extras = set(sys.argv[1:]) - {"--onnxruntime"}
for line in requires("mer-edge") or []:
    spec, _, marker = (part.strip() for part in line.partition(";"))
    extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
    if extra is not None and extra.group(1) not in extras:
        continue
    if (re.fullmatch(r"onnxruntime\s*([<>=!~].*)?", spec) is not None) == want_runtime:
        print(spec)
EOF
}

has_cuda_provider() {
  "$PY" -c "import sys, onnxruntime as o; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" \
    2>/dev/null
}

install_gpu_onnxruntime() {
  if has_cuda_provider; then
    echo "install.sh: keeping the installed ONNX Runtime: it has the CUDA provider"
    return
  fi
  local spec cpu_removed=0
  spec=$(requirements --onnxruntime)
  spec=${MER_EDGE_ORT_GPU:-${spec/onnxruntime/onnxruntime-gpu}}
  if "$PY" -m pip show -q onnxruntime >/dev/null 2>&1; then
    "$PY" -m pip uninstall -y -q onnxruntime
    cpu_removed=1
  fi
  if ! pip_install "$spec"; then
    echo "install.sh: could not install $spec; on a Jetson, install NVIDIA's onnxruntime-gpu" \
         "wheel for your JetPack first (see README), then run install.sh --gpu again" >&2
    exit 1
  fi
  if [ "$cpu_removed" = 1 ]; then
    # Removing the CPU build deleted files the GPU build shares with it: put them back.
    pip_install --force-reinstall --no-deps "$spec"
  fi
  if ! has_cuda_provider; then
    echo "install.sh: ONNX Runtime still lacks the CUDA provider after installing $spec" >&2
    exit 1
  fi
}

if [[ " ${extras[*]-} " == *" train "* ]]; then
  # Pinned first: an unpinned torch pulls GBs of CUDA packages.  The package index here serves
  # a CPU wheel for this pin; where PyPI serves the CUDA build, install torch==2.13.0 from
  # https://download.pytorch.org/whl/cpu before running this script (pip keeps it).
  pip_install "torch==2.13.0"
fi
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
if [ "$gpu" = 1 ]; then
  pip_install --no-deps -e "$spec"
  mapfile -t needs < <(requirements ${extras[@]+"${extras[@]}"})
  pip_install "${needs[@]}"
  install_gpu_onnxruntime
else
  pip_install -e "$spec"
fi
pip_install --no-deps "mediapipe==0.10.14"
"$PY" -c "import mer_edge, mediapipe, onnxruntime; print('mer_edge', mer_edge.__version__, 'with mediapipe', mediapipe.__version__, 'and onnxruntime', onnxruntime.__version__, onnxruntime.get_available_providers())"
