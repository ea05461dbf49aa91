#!/usr/bin/env bash
# Set everything up for serving and start the engine on the shipped default model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh serve
exec .venv-serve/bin/python run_engine.py "$@"
