#!/usr/bin/env bash
# Installs mer_edge and its runtime dependencies on a fresh machine, offline-capable models included.
#
#   bash scripts/install.sh            # runtime (no torch)
#   bash scripts/install.sh --train    # + PyTorch (CPU wheel) and the model-building extra
#   bash scripts/install.sh --test     # + pytest
#
# MediaPipe 0.10.14 is the newest release whose wheel bundles the face detection and
# landmark models its legacy FaceMesh runs offline (>= 0.10.30 ship none).  Its metadata
# pins jax and opencv-contrib-python, neither of which FaceMesh needs, so it is installed
# with --no-deps; setup.py lists the dependencies it really has.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=()
for arg in "$@"; do
  case "$arg" in
    --train) extras+=(train) ;;
    --test) extras+=(test) ;;
    *) echo "install.sh: unknown option $arg (use --train, --test)" >&2; exit 2 ;;
  esac
done
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }
if [[ " ${extras[*]-} " == *" train "* ]]; then
  # The CPU wheel first: an unpinned torch pulls GBs of CUDA packages.
  pip_install "torch==2.13.0"
fi
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
pip_install -e "$spec"
pip_install --no-deps "mediapipe==0.10.14"
"$PY" -c "import mer_edge, mediapipe; print('mer_edge', mer_edge.__version__, 'with mediapipe', mediapipe.__version__)"
