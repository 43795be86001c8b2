#!/usr/bin/env bash
# Install everything gemma-widget needs into .venv and node_modules (idempotent).
#   bash scripts/setup.sh          # package, demo and test tools
#   bash scripts/setup.sh --browser  # also Debian's Chromium, for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# torch goes in first and pinned, so that no later requirement pulls a multi-GB CUDA build
# where a CPU wheel is at hand. Override with GW_TORCH="torch==X" (or "" to keep yours).
GW_TORCH=${GW_TORCH-torch==2.13.0}

if [[ "${1:-}" == "--browser" ]] && ! command -v chromium >/dev/null; then
  echo "== installing Debian's chromium (browser tests)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null
fi

echo "== npm packages (front-end build, vitest, playwright-core, Gemma 3 tokenizer)"
npm ci --no-audit --no-fund --loglevel=error

echo "== Python environment in .venv"
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -U pip
if [[ -n "$GW_TORCH" ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "$GW_TORCH"
fi
# Editable install: the build hook bundles js/ into gemma_widget/static/.
.venv/bin/python -m pip install -q -e ".[test]"
echo "== setup done"
