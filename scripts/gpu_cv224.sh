#!/usr/bin/env bash
# The 224 px cross-validation of the a25 recipe on a lent GPU machine (weights/MODEL_CARD.md, session 17).
#
# Runs, side by side, the five fold models of the recipe chosen on the 128 px folds (a25: base training with
# class mass ~ n_c^0.25, `--keep last --no-logit-adjust`, then the 2-epoch dual-loss QAT) and the model of the
# same recipe on the train split, all at RES px. Each QAT checkpoint is written to OUT as soon as it exists:
# the final model as it is (float32), the fold models with their conv / linear weights rounded to float16
# (what comes back from the machine is capped at 64 MiB; the out-of-fold figures are then those of the rounded
# weights). At DEADLINE_S every stage still running is stopped and its last finished epoch is written instead,
# named `*-partial-*`. Nothing is evaluated here: `sramflow evaluate` (float and the integer reference) runs
# on this repository's machine afterwards. The data sent holds the train and val images only (no test image).
#
#   DATA=.devdata/ham10000 SPLITS=.devdata/splits OUT=/tmp/o [PY=python3] [DEADLINE_S=450] [RES=224]
#     [BASE_EPOCHS=8] [QAT_EPOCHS=2] [WORKERS=2] [JOBS="fold1 ... final"] [EXTRA=...] scripts/gpu_cv224.sh
set -u
. "$(dirname "$0")/deadline.sh"
PY=${PY:-python3}
DATA=${DATA:?set DATA to the HAM10000 folder (train + val images)}
SPLITS=${SPLITS:?set SPLITS to the folder of foldKof5.json files}
OUT=${OUT:?set OUT to the folder the checkpoints go to}
DEADLINE_S=${DEADLINE_S:-450}
RES=${RES:-224}
BASE_EPOCHS=${BASE_EPOCHS:-8}
WORKERS=${WORKERS:-2}
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-build/gpu-cv224}
EXTRA=${EXTRA:-}
JOBS=${JOBS:-"fold1 fold2 fold3 fold4 fold5 final"}
BASE_ARGS="--epochs $BASE_EPOCHS --balance-alpha 0.25 --keep last --no-logit-adjust"
QAT_ARGS="--qat-epochs ${QAT_EPOCHS:-2} --lr 3e-5 --qat-float-weight 0.5"
export OMP_WAIT_POLICY=PASSIVE
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
mkdir -p "$WORK" "$OUT"
LOG=$WORK/run.log
echo "start $(date -u +%FT%TZ) res $RES base epochs $BASE_EPOCHS deadline ${DEADLINE_S}s device $DEVICE jobs: $JOBS" | tee "$LOG"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; nproc;
 $PY -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)') >> "$LOG" 2>&1

job() {  # $1: fold1..fold5 or final
  local name=$1 d=$WORK/$1 split
  if [ "$name" = final ]; then split=weights/ham10000_split.json; else split=$SPLITS/${name}of5.json; fi
  mkdir -p "$d"
  local common="--data $DATA --model efficientnet_b0 --resolution $RES --device $DEVICE --workers $WORKERS --threads 1 --split-file $split $EXTRA"
  $PY -m sramflow.train $common $BASE_ARGS --out "$d/base/" > "$d/base.log" 2>&1 \
    && echo "$name base done at $(elapsed)s" >> "$LOG" \
    && $PY -m sramflow.train $common --qat-from "$d/base/efficientnet_b0_ham10000.safetensors" $QAT_ARGS \
         --out "$d/qat/" > "$d/qat.log" 2>&1 \
    && $PY scripts/gpu_pack.py "$d/qat/efficientnet_b0_ham10000.safetensors" "$OUT/$name-qat.safetensors" \
         $([ "$name" = final ] || echo --half) >> "$LOG" 2>&1
  echo "$name exit $? at $(elapsed)s" >> "$LOG"
}

pids=()
for j in $JOBS; do
  setsid bash -c "$(declare -f job elapsed); T0=$T0; PY='$PY' DATA='$DATA' SPLITS='$SPLITS' OUT='$OUT' RES='$RES' \
    DEVICE='$DEVICE' WORKERS='$WORKERS' WORK='$WORK' EXTRA='$EXTRA' BASE_ARGS='$BASE_ARGS' QAT_ARGS='$QAT_ARGS' \
    LOG='$LOG'; job $j" &
  pids+=($!)
done
stop_at_deadline "${pids[@]}"
for j in $JOBS; do  # a stopped job: its last finished epoch (QAT if one ran, else base), labelled partial
  [ -f "$OUT/$j-qat.safetensors" ] && continue
  for stage in qat base; do
    s=$WORK/$j/$stage
    if [ -f "$s/train-state.safetensors" ] || [ -f "$s/efficientnet_b0_ham10000.safetensors" ]; then
      $PY scripts/gpu_pack.py "$s" "$OUT/$j-partial-$stage.safetensors" --half >> "$LOG" 2>&1 && break
    fi
  done
done
echo "end at $(elapsed)s" | tee -a "$LOG"
for j in $JOBS; do tail -n 2 "$WORK/$j/base.log" "$WORK/$j/qat.log" 2>/dev/null; done | tee -a "$LOG"
tar -czf "$OUT/logs.tar.gz" -C "$WORK" --exclude='*.safetensors' . 2>/dev/null
ls -la "$OUT"
