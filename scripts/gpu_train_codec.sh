#!/usr/bin/env bash
# Train new codec decoders for the shipped encoder on a lent GPU, from carried audio
# bundles, and bring back their best-on-validation weights (docs/codec.md, "Training a
# decoder on a lent GPU").
#
#   here:   python -m engine.train pack-audio --data CORPUS --out .gpu/audio --megabytes 48
#           python -m engine.train pack-audio --data CORPUS --out .gpu/valid --megabytes 3 \
#               --split valid
#   there:  bash scripts/gpu_train_codec.sh .gpu/audio .gpu/valid "$OUT" 8    # minutes
#   here:   cat FILES/PRESET-best.pt.part-* > RUN/checkpoint.pt; tar -xf FILES/PRESET-files.tar -C RUN
#
# Each preset in PRESETS (default: gpu-decoder gpu-decoder-wide) trains at the same time
# on the one GPU, starting from exported/codec (import-codec) with its encoder frozen.
# OUT gets: gpu.txt (the card); per preset PRESET-best.pt.part-NN (the weights of the best
# validation pass, or of the last checkpoint when none ran, in 15 MiB parts: lent
# machines return files of at most 16 MiB) and PRESET-files.tar (config, losses, valid
# scores, plots, latent statistics, its training log).
# Environment: PYTHON (python3), WHEELS (.whl: wheels installed first when present, for
# soundfile), DEVICE (cuda), WORK (/tmp/presto-gpu-codec), PRESETS.
set -u -o pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 TRAIN_BUNDLE VALID_BUNDLE OUT MINUTES" >&2
    exit 2
fi
TRAIN=$1 VALID=$2 OUT=$3 MINUTES=$4
PY=${PYTHON:-python3} WORK=${WORK:-/tmp/presto-gpu-codec} WHEELS=${WHEELS:-.whl}
PRESETS=${PRESETS:-gpu-decoder gpu-decoder-wide}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1 || true
cat "$OUT/gpu.txt"
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$WORK/site" "$WHEELS"/*.whl || exit 1
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -m engine.train unpack-audio --bundle "$TRAIN" --out "$WORK/train" || exit 1
"$PY" -m engine.train unpack-audio --bundle "$VALID" --out "$WORK/valid" || exit 1
rm -rf "$WORK/init"
"$PY" -m engine.train import-codec --model exported/codec --out "$WORK/init" || exit 1

# A hard stop 45 s past the budget, so that what follows always runs inside a
# 10-minute lease call (best.pt is written atomically at every validation pass).
limit=$("$PY" -c "print(int(float('$MINUTES') * 60 + 45))")
for preset in $PRESETS; do
    rm -rf "$WORK/$preset"
    mkdir -p "$WORK/$preset"
    timeout "$limit" "$PY" -m engine.train codec --cache "$WORK/train" \
        --valid-cache "$WORK/valid" --init "$WORK/init" --freeze-encoder \
        --out "$WORK/$preset" --preset "$preset" --device "${DEVICE:-cuda}" \
        --minutes "$MINUTES" >"$WORK/$preset/train.log" 2>&1 &
done
wait
for preset in $PRESETS; do
    run="$WORK/$preset"
    grep -a "valid @" "$run/train.log" | tail -3
    echo "$preset: $(tail -c 300 "$run/train.log" | tr '\r' '\n' | tail -2)"
    weights="$run/best.pt"
    [ -f "$weights" ] || weights="$run/checkpoint.pt"
    if [ -f "$weights" ]; then
        "$PY" - "$weights" "$run/weights.pt" <<'EOF'
import sys, torch
state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
state["optimizer"] = None  # the export needs the weights alone
torch.save(state, sys.argv[2])
EOF
        split -b 15M -d "$run/weights.pt" "$OUT/$preset-best.pt.part-"
    fi
    files=()
    for f in config.json losses.jsonl valid.jsonl train_state.json losses.png \
        latent_stats.json train.log; do
        [ -f "$run/$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] && tar -C "$run" -cf "$OUT/$preset-files.tar" "${files[@]}"
done
ls -la "$OUT"
