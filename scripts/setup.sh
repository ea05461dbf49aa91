#!/usr/bin/env bash
# Set up presto-live on a fresh Debian machine. Idempotent: rerunning only fills in what is missing.
#   bash scripts/setup.sh serve   ->  .venv-serve: serving dependencies only (no torch)
#   bash scripts/setup.sh dev     ->  .venv: training, export and test dependencies (torch pinned, first)
set -euo pipefail
MODE="${1:-dev}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVE_APT=(libsndfile1)
DEV_APT=(libsndfile1 fluidsynth libfluidsynth3 fluid-soundfont-gm jackd2 chromium)  # jackd2: MIDI tests; chromium: page tests

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "[setup] apt-get install ${missing[*]}"
        local sudo=""
        [[ $(id -u) -ne 0 ]] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

make_venv() {
    local dir="$1"
    if [[ ! -x "$dir/bin/python" ]]; then
        echo "[setup] creating $dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q --upgrade pip
    fi
}

case "$MODE" in
serve)
    apt_install "${SERVE_APT[@]}"
    make_venv .venv-serve
    .venv-serve/bin/pip install -q -e .
    ;;
dev)
    apt_install "${DEV_APT[@]}"
    make_venv .venv
    # torch first and pinned: an unpinned torch pulled in by a dependency downloads a CUDA build.
    .venv/bin/pip install -q torch==2.13.0
    .venv/bin/pip install -q -e ".[train,test]"
    # basic-pitch's wheel carries its ONNX note model; its declared dependencies pull
    # TensorFlow, which the quality bench does not need (it runs the ONNX with onnxruntime).
    .venv/bin/pip install -q --no-deps basic-pitch==0.4.0
    ;;
*)
    echo "usage: bash scripts/setup.sh serve|dev" >&2
    exit 2
    ;;
esac
echo "[setup] $MODE environment ready"
