#!/usr/bin/env bash
# Install everything, then run every check and test: lint, types, pytest, vitest, browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

echo "== lint and types"
ruff check gemma_widget tests benchmarks
ruff format --check gemma_widget tests benchmarks
mypy
npx tsc --noEmit

echo "== front-end unit tests (vitest)"
npx vitest run

echo "== Python tests (pytest)"
python -m pytest

echo "== browser tests (JupyterLab, Notebook 7 and Voila in Chromium)"
node --test --test-concurrency=1 tests/browser/*.test.mjs
