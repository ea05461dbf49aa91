#!/usr/bin/env bash
# Train the base model on a lent GPU from a carried latent-cache bundle and bring back
# what export, judging and distillation need (docs/model.md, "Training on a lent GPU").
#
#   here:   python -m engine.train pack-cache --cache LATENTS --out .gpu/cache
#   there:  bash scripts/gpu_train_base.sh .gpu/cache "$OUT" 7.5      # minutes of training
#   here:   cat FILES/base-slim.pt.part-* > RUN/checkpoint.pt; tar -xf FILES/run-files.tar -C RUN
#
# OUT gets: gpu.txt (the card), base-slim.pt.part-NN (an EMA-only checkpoint in 15 MiB
# parts: lent machines return files of at most 16 MiB), run-files.tar (config, logs,
# loss and validation plots, train_state.json). The training log is the caller's tee.
# Whatever happens to training, the newest checkpoint it wrote still comes back.
# Environment: PYTHON (python3), PRESET (gpu), DEVICE (cuda), WORK (/tmp/presto-gpu).
set -u -o pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 BUNDLE OUT MINUTES" >&2
    exit 2
fi
BUNDLE=$1 OUT=$2 MINUTES=$3
PY=${PYTHON:-python3} WORK=${WORK:-/tmp/presto-gpu}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1 || true
cat "$OUT/gpu.txt"
"$PY" -m engine.train unpack-cache --bundle "$BUNDLE" --out "$WORK/latents" || exit 1
# A hard stop 2 minutes past the budget, so that the slim copy below always runs.
limit=$("$PY" -c "print(int(float('$MINUTES') * 60 + 120))")
timeout "$limit" "$PY" -m engine.train base --cache "$WORK/latents" --codec exported/codec \
    --out "$WORK/run" --preset "${PRESET:-gpu}" --device "${DEVICE:-cuda}" --minutes "$MINUTES"
echo "training exited with $?"
if [ -f "$WORK/run/checkpoint.pt" ]; then
    "$PY" -m engine.train slim --run "$WORK/run" --out "$WORK/slim.pt" &&
        split -b 15M -d "$WORK/slim.pt" "$OUT/base-slim.pt.part-"
fi
files=()
for f in config.json losses.jsonl valid.jsonl train_state.json losses.png valid.png; do
    [ -f "$WORK/run/$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] && tar -C "$WORK/run" -cf "$OUT/run-files.tar" "${files[@]}"
ls -la "$OUT"
