#!/usr/bin/env bash
# Install, then serve the dashboard (notebooks/dashboard.ipynb) with Voilà on 127.0.0.1:8866.
#   bash scripts/demo.sh                      # EmbeddingGemma (or the labelled offline stand-in)
#   bash scripts/demo.sh --model PATH_OR_ID   # any hub id or local folder
#   bash scripts/demo.sh compare              # notebooks/compare.ipynb: query vs document, causal
#   bash scripts/demo.sh lab                  # JupyterLab on notebooks/quickstart.ipynb instead
set -euo pipefail
cd "$(dirname "$0")/.."
mode=voila
notebook=notebooks/dashboard.ipynb
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) export GEMMA_WIDGET_MODEL="$2"; shift 2 ;;
    lab) mode=lab; shift ;;
    compare) notebook=notebooks/compare.ipynb; shift ;;
    *) echo "usage: bash scripts/demo.sh [lab|compare] [--model PATH_OR_HUB_ID]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
. .venv/bin/activate
# gemma_widget.nodelay: without it the Jupyter server holds each widget update ~40 ms (Nagle's
# algorithm on the kernel websocket; see gemma_widget/nodelay.py).
if [[ "$mode" == "lab" ]]; then
  exec python -m jupyterlab notebooks/quickstart.ipynb --ServerApp.ip=127.0.0.1 \
    --ServerApp.jpserver_extensions=gemma_widget.nodelay=True \
    $([[ $(id -u) -eq 0 ]] && echo --allow-root)
fi
exec python -m gemma_widget.nodelay voila "$notebook" --Voila.ip=127.0.0.1 --no-browser
