#!/usr/bin/env bash
# The accelerated models on a lent GPU, side by side in one call, from a carried latent-cache
# bundle and a half-precision teacher (docs/presto_s.md, "On a lent GPU"):
#
#   s    Presto-S distilled from the teacher for MINUTES
#   l    Presto-L (preset gpu) for L_MINUTES, then
#   ls   Presto-LS from that Presto-L run for the rest of MINUTES
#   ase  the ASE-style early-exit baseline (preset gpu) for L_MINUTES
#
#   here:   python -m engine.train subset-cache --cache LATENTS --out SMALL --fraction 0.6
#           python -m engine.train pack-cache --cache SMALL --out .gpu/cache        # ~33 MB
#           python -m engine.train slim --run TEACHER_RUN --out .gpu/teacher.pt --half  # ~20 MB
#   there:  bash scripts/gpu_train_presto.sh .gpu/cache .gpu/teacher.pt "$OUT" 7   # minutes
#   here:   cat FILES/bundle.tar.part-* FILES2/bundle.tar.part-* | tar -xf - -C BACK
#           (BACK/l, BACK/ase: run directories of float16 EMA weights for export and bench;
#           BACK/s, BACK/ls: logs, and snapshots/step-N/checkpoint.pt for --presto-s)
#
# The jobs share the GPU and the host's cores (THREADS each). What comes back is one tar in
# 15 MiB parts (a lent machine returns files of at most 16 MiB, at most 64 MiB per call: the
# first four parts come back with this call, and the script prints the `cp` that a second
# call must run at once, while the machine is warm, for the rest): gpu.txt, for each
# run its logs and plots, for Presto-L and ASE the slim float16 checkpoint, for Presto-S
# and -LS the float16 EMA snapshots, S_SNAPSHOTS (2) and LS_SNAPSHOTS (1) spread over the
# run (the last always).
# Environment: PYTHON (python3), DEVICE (cuda), WORK (/tmp/presto-gpu), JOBS ("s l ls ase"),
# L_MINUTES (0.4 * MINUTES), BATCH (16, Presto-S/-LS), SNAPSHOT_EVERY (250), GUIDANCE (3),
# S_ARGS / LS_ARGS (extra presto-s / presto-ls flags; LS_ARGS "--gan-gen-weight 0.2").
set -u -o pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 BUNDLE TEACHER_PT OUT MINUTES" >&2
    exit 2
fi
BUNDLE=$1 TEACHER=$2 OUT=$3 MINUTES=$4
PY=${PYTHON:-python3} WORK=${WORK:-/tmp/presto-gpu} DEV=${DEVICE:-cuda}
JOBS=" ${JOBS:-s l ls ase} " THREADS=${THREADS:-4}
L_MINUTES=${L_MINUTES:-$("$PY" -c "print(round(0.4 * float('$MINUTES'), 2))")}
LS_MINUTES=$("$PY" -c "print(round(float('$MINUTES') - float('$L_MINUTES') - 0.3, 2))")
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK/back"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$WORK/back/gpu.txt" 2>&1
cat "$WORK/back/gpu.txt"
"$PY" -m engine.train unpack-cache --bundle "$BUNDLE" --out "$WORK/latents" || exit 1
mkdir -p "$WORK/teacher"
cp "$TEACHER" "$WORK/teacher/checkpoint.pt" || exit 1
rm -rf "$WORK/runs" && mkdir -p "$WORK/runs"

has() { [[ $JOBS == *" $1 "* ]]; }
# train NAME MINUTES COMMAND...: one job, a hard stop 90 s past its budget, its log kept
train() {
    local name=$1 minutes=$2
    shift 2
    local limit
    limit=$("$PY" -c "print(int(float('$minutes') * 60 + 90))")
    timeout "$limit" "$PY" -m engine.train "$@" --teacher "$WORK/teacher" --cache "$WORK/latents" \
        --out "$WORK/runs/$name" --device "$DEV" --minutes "$minutes" --threads "$THREADS" \
        >"$WORK/$name.log" 2>&1
    echo "$name exited with $?"
    tr '\r' '\n' <"$WORK/$name.log" | grep -a "%|" | tail -1
}
distil=(--steps 1000000 --batch "${BATCH:-16}" --guidance "${GUIDANCE:-3}"
        --snapshot-every "${SNAPSHOT_EVERY:-250}" --no-audio-fd)
has s && train s "$MINUTES" presto-s "${distil[@]}" ${S_ARGS:-} &
if has l; then
    (
        train l "$L_MINUTES" presto-l --preset gpu
        if has ls && [ -f "$WORK/runs/l/checkpoint.pt" ]; then
            train ls "$LS_MINUTES" presto-ls --presto-l "$WORK/runs/l" "${distil[@]}" \
                ${LS_ARGS:---gan-gen-weight 0.2}
        fi
    ) &
fi
has ase && train ase "$L_MINUTES" presto-l --preset gpu --baseline ase &
wait

# spread SNAPSHOT_DIR N: the N snapshots spread over the run, the last among them
spread() {
    "$PY" - "$1" "$2" <<'EOF'
import sys
from pathlib import Path
snaps = sorted(Path(sys.argv[1]).glob("step-*"))
n = min(int(sys.argv[2]), len(snaps))
picks = {round((len(snaps) - 1) * (i + 1) / n) for i in range(n)} if n else set()
print(" ".join(str(snaps[i]) for i in sorted(picks)))
EOF
}
for name in s l ls ase; do
    run=$WORK/runs/$name back=$WORK/back/$name
    [ -f "$run/config.json" ] || continue
    mkdir -p "$back"
    # a Presto-L run's EMA is its result; a distillation run's results are its snapshots
    case $name in
        l | ase) [ -f "$run/checkpoint.pt" ] &&
            "$PY" -m engine.train slim --run "$run" --out "$back/checkpoint.pt" --half ;;
    esac
    for f in config.json losses.jsonl valid.jsonl fd.jsonl train_state.json losses.png \
        valid.png fd.png; do
        [ -f "$run/$f" ] && cp "$run/$f" "$back/"
    done
    tr '\r' '\n' <"$WORK/$name.log" | grep -av "^presto-\|^ase:" >"$back/train.log"
    keep=0
    [ "$name" = s ] && keep=${S_SNAPSHOTS:-2}
    [ "$name" = ls ] && keep=${LS_SNAPSHOTS:-1}
    [ -d "$run/snapshots" ] || continue
    for snap in $(spread "$run/snapshots" "$keep"); do
        mkdir -p "$back/snapshots/${snap##*/}"
        "$PY" -m engine.train slim --run "$snap/checkpoint.pt" \
            --out "$back/snapshots/${snap##*/}/checkpoint.pt" --half
    done
done
rm -rf "$WORK/parts" && mkdir -p "$WORK/parts"
tar -C "$WORK/back" -cf - . | split -b 15M -d - "$WORK/parts/bundle.tar.part-"
du -ah "$WORK/back" | sort -k2 | tail -40
# One call brings back at most 64 MiB in all: the first four parts now, the rest by a
# second call on the still-warm machine (within its idle release, ~30 s).
ls "$WORK/parts"/* | head -4 | xargs -I{} cp {} "$OUT/"
rest=$(ls "$WORK/parts"/* | tail -n +5 | tr '\n' ' ')
ls -la "$OUT"
[ -n "$rest" ] && echo "more parts: run at once on the warm machine: cp $rest \"\$OUT\"/"
exit 0
