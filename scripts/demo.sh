#!/usr/bin/env bash
# Install, then open the quickstart notebook in JupyterLab (or pass "voila" for the dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
if [[ "${1:-lab}" == "voila" ]]; then
  exec python -m voila notebooks/quickstart.ipynb --Voila.ip=127.0.0.1
fi
exec python -m jupyterlab notebooks/quickstart.ipynb --ServerApp.ip=127.0.0.1 \
  $([[ $(id -u) -eq 0 ]] && echo --allow-root)
