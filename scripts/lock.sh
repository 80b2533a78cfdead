#!/usr/bin/env bash
# Regenerate both locks from pyproject.toml: requirements-dev.lock (every extra, the test tools and
# the CPU build of torch), then requirements.lock (what the main job needs), constrained to the
# dev lock so the two never disagree on a version.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
# The CPU build of torch: this machine keeps its wheel in /opt/wheels; elsewhere PyTorch's CPU index has it.
if [ -d /opt/wheels ]; then TORCH_SOURCE=(--find-links /opt/wheels); else TORCH_SOURCE=(--extra-index-url https://download.pytorch.org/whl/cpu); fi
EXTRAS=(--extra postgres --extra redis --extra dev --extra xgboost --extra lightgbm --extra onnx --extra ray --extra kubeflow --extra s3 --extra torch --extra recs)
"$UV" pip compile -q pyproject.toml "${EXTRAS[@]}" "${TORCH_SOURCE[@]}" --no-emit-find-links --no-emit-index-url \
  --custom-compile-command "bash scripts/lock.sh" -o requirements-dev.lock
"$UV" pip compile -q pyproject.toml -c requirements-dev.lock --custom-compile-command "bash scripts/lock.sh" \
  -o requirements.lock
