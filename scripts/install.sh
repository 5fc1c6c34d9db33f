#!/usr/bin/env bash
# Create .venv and install ecgqa-tools with every extra. torch is pinned FIRST to the CPU
# build (torch==2.13.0); later installs see it satisfied and never pull a CUDA build.
# Usage: scripts/install.sh [extra-spec]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[${extras}]"
# ai-edge-litert runs openecg's TFLite model; tflite-runtime crashes under numpy 2, so make sure
# no dependency brought it in.
if python -m pip show tflite-runtime >/dev/null 2>&1; then
  python -m pip uninstall --yes --quiet tflite-runtime
fi
torch_version=$(python -c 'import torch; print(torch.__version__)')
case "$torch_version" in
  2.13.0*) ;;
  *) echo "error: torch $torch_version was installed instead of 2.13.0 (CPU)" >&2; exit 1 ;;
esac
echo "ecgqa-tools installed in .venv (torch $torch_version)" >&2
