#!/usr/bin/env bash
# Distil Presto-S from a base teacher on a lent GPU, from a carried latent-cache bundle and a
# half-precision teacher, and bring back the last EMA snapshots (docs/presto_s.md, "On a lent
# GPU").
#
#   here:   python -m engine.train subset-cache --cache LATENTS --out SMALL --fraction 0.6
#           python -m engine.train pack-cache --cache SMALL --out .gpu/cache        # ~35 MB
#           python -m engine.train slim --run TEACHER_RUN --out .gpu/teacher.pt --half  # ~20 MB
#   there:  bash scripts/gpu_train_presto_s.sh .gpu/cache .gpu/teacher.pt "$OUT" 8   # minutes
#   here:   cat FILES/snapshot-NNNNNN.pt.part-* > SNAP/checkpoint.pt; tar -xf FILES/run-files.tar -C RUN
#
# OUT gets: gpu.txt (the card), snapshot-STEP.pt.part-NN for the last SNAPSHOTS (3) EMA
# snapshots as float16 (each ~20 MB in 15 MiB parts: lent machines return files of at most
# 16 MiB, 8 files in all), run-files.tar (config, losses, the latent-FD probe, plots,
# train_state.json, the training log). Classifier FD along training is off there (no
# codec or classifier travels): judge the snapshots here with `engine.bench presto-s`.
# Environment: PYTHON (python3), DEVICE (cuda), WORK (/tmp/presto-gpu-s), BATCH (16),
# SNAPSHOT_EVERY (250), SNAPSHOTS (3), GUIDANCE (3), PRESTO_L (a Presto-L run dir there: trains
# Presto-LS instead).
set -u -o pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 BUNDLE TEACHER_PT OUT MINUTES" >&2
    exit 2
fi
BUNDLE=$1 TEACHER=$2 OUT=$3 MINUTES=$4
PY=${PYTHON:-python3} WORK=${WORK:-/tmp/presto-gpu-s}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1 || true
cat "$OUT/gpu.txt"
"$PY" -m engine.train unpack-cache --bundle "$BUNDLE" --out "$WORK/latents" || exit 1
mkdir -p "$WORK/teacher"
cp "$TEACHER" "$WORK/teacher/checkpoint.pt" || exit 1
command=(presto-s)
[ -n "${PRESTO_L:-}" ] && command=(presto-ls --presto-l "$PRESTO_L")
rm -rf "$WORK/run"
# A hard stop 45 s past the budget, so that what follows runs inside a 10-minute call
# (snapshots are written atomically as training goes).
limit=$("$PY" -c "print(int(float('$MINUTES') * 60 + 45))")
timeout "$limit" "$PY" -m engine.train "${command[@]}" --teacher "$WORK/teacher" \
    --cache "$WORK/latents" --out "$WORK/run" --device "${DEVICE:-cuda}" --minutes "$MINUTES" \
    --steps 1000000 --batch "${BATCH:-16}" --guidance "${GUIDANCE:-3}" \
    --snapshot-every "${SNAPSHOT_EVERY:-250}" --no-audio-fd 2>&1 | tee "$WORK/train.log" |
    tr '\r' '\n' | grep -av "^presto-" 
echo "training exited with ${PIPESTATUS[0]}"
tr '\r' '\n' <"$WORK/train.log" | grep -a "update" | tail -1
if [ -d "$WORK/run/snapshots" ]; then
    for snap in $(ls -d "$WORK/run/snapshots"/step-* | tail -n "${SNAPSHOTS:-3}"); do
        name=snapshot-${snap##*/step-}
        "$PY" -m engine.train slim --run "$snap/checkpoint.pt" --out "$WORK/$name.pt" --half &&
            split -b 15M -d "$WORK/$name.pt" "$OUT/$name.pt.part-"
    done
fi
cp "$WORK/train.log" "$WORK/run/" 2>/dev/null
files=()
for f in config.json losses.jsonl fd.jsonl train_state.json losses.png fd.png train.log; do
    [ -f "$WORK/run/$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] && tar -C "$WORK/run" -cf "$OUT/run-files.tar" "${files[@]}"
ls -la "$OUT"
