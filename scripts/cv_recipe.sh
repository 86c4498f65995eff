#!/usr/bin/env bash
# Cross-validate one training recipe: K folds of the train + val lesions (sramflow.data.folds), each trained
# (base, then QAT) on the other folds and evaluated on its own (float and INT8, the integer reference); the
# out-of-fold predictions of all train + val images are pooled into one figure with lesion-bootstrap intervals.
# It chooses among recipes on ~6,800 images instead of the 856 of val, and never touches the test split (the fold
# files leave it out, so no stage evaluates it).
#
#   DATA=../shared/data/ham10000 WORK=build/cv/r128 [FOLDS=5] [PARALLEL=2] [RES=128] [DEVICE=cpu] \
#     [BASE_ARGS="--epochs 5 --balance-alpha 0.25 --keep last --no-logit-adjust"] [QAT_ARGS="--qat-epochs 2 --lr 3e-5 --qat-float-weight 0.5"] [EXTRA=...] \
#     [ONLY="1 2"] [EVAL_ARGS="--weight-bits pointwise=4,default=8"] scripts/cv_recipe.sh
#
# Writes WORK/foldIofK/{base,qat,eval-val}/ and WORK/pooled.json; a fold whose eval-val/accuracy_report.json
# exists is not run again, a stage that finished is not trained again, and one stopped mid-way continues from its
# last finished epoch (train --resume): a killed run, or one spread over sessions, resumes. ONLY runs some folds
# (e.g. spread over machines or sessions); pooled.json pools every finished fold and says how many. Two recipes'
# pooled predictions compare with scripts/compare_predictions.py A1.csv,A2.csv,... B1.csv,B2.csv,... --data DATA.
# EVAL_ARGS go to each fold's `sramflow evaluate` (with --weight-bits SPEC it adds the mixed-precision column,
# pooled as pooled-mixed.json).
set -eu
PY=${PY:-.venv/bin/python}
DATA=${DATA:?set DATA to the HAM10000 folder}
WORK=${WORK:?set WORK to the output folder}
FOLDS=${FOLDS:-5}
PARALLEL=${PARALLEL:-2}
RES=${RES:-128}
DEVICE=${DEVICE:-cpu}
SPLIT_FILE=${SPLIT_FILE:-weights/ham10000_split.json}
# The shipped recipe (a25); without --balance-alpha 0.25, the recipe shipped in sessions 5-17 (/work/cv/r128 in the
# model card). Nothing is chosen on the held-out fold (--keep last --no-logit-adjust).
BASE_ARGS=${BASE_ARGS:---epochs 5 --balance-alpha 0.25 --keep last --no-logit-adjust}
QAT_ARGS=${QAT_ARGS:---qat-epochs 2 --lr 3e-5 --qat-float-weight 0.5}
EXTRA=${EXTRA:-}          # e.g. --batch-size 8 --warmup-steps 1 for a dry run, --workers 4 on a GPU machine
EVAL_ARGS=${EVAL_ARGS:-}  # e.g. --weight-bits SPEC: the held-out fold's mixed-precision predictions too
ONLY=${ONLY:-$(seq 1 "$FOLDS")}
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$WORK"
$PY -m sramflow.data.folds --data "$DATA" --split-file "$SPLIT_FILE" --folds "$FOLDS" --without-test --out "$WORK/splits" \
  > "$WORK/folds.log"  # no fold run evaluates (or logs) the test split

train_stage() {  # $1: the stage's folder, $2: its log, then the python -m sramflow.train arguments
  local dir=$1 log=$2; shift 2
  if [ -f "$dir/train-state.safetensors" ]; then  # stopped mid-way (killed, or another session): continue it
    echo "resuming $dir" >> "$log"
    $PY -m sramflow.train "$@" --resume "$dir/" >> "$log" 2>&1
  elif [ -f "$dir/efficientnet_b0_ham10000.safetensors" ]; then  # finished (the state goes when a stage ends)
    echo "$dir finished before" >> "$log"
  else
    $PY -m sramflow.train "$@" --out "$dir/" > "$log" 2>&1
  fi
}

fold() {  # $1: fold number
  set -f  # EVAL_ARGS may hold a --weight-bits layer pattern (features.6.*): never a file glob
  local name=fold${1}of$FOLDS d=$WORK/fold${1}of$FOLDS split=$WORK/splits/fold${1}of$FOLDS.json
  [ -f "$d/eval-val/accuracy_report.json" ] && { echo "$name: done before"; return 0; }
  mkdir -p "$d"
  local common="--data $DATA --model efficientnet_b0 --resolution $RES --device $DEVICE --threads 1 --split-file $split $EXTRA"
  train_stage "$d/base" "$d/base.log" $common $BASE_ARGS
  train_stage "$d/qat" "$d/qat.log" $common --qat-from "$d/base/efficientnet_b0_ham10000.safetensors" $QAT_ARGS
  $PY -m sramflow evaluate --checkpoint "$d/qat/efficientnet_b0_ham10000.safetensors" --data "$DATA" --split val \
    --split-file "$split" --no-progress $EVAL_ARGS --out "$d/eval-val" > "$d/eval.log" 2>&1
  echo "$name: $(grep -E '^(float|int8) *:' "$d/eval.log" | tr -s ' ' | paste -sd ';')"
}
export -f fold train_stage
export PY DATA WORK FOLDS RES DEVICE BASE_ARGS QAT_ARGS EXTRA EVAL_ARGS
printf '%s\n' $ONLY | xargs -P "$PARALLEL" -I{} bash -c 'set -eu; fold {}'
preds=$(ls "$WORK"/fold*of"$FOLDS"/eval-val/predictions.csv | paste -sd,)
echo "pooled: $(echo "$preds" | tr ',' '\n' | wc -l) of $FOLDS folds"
$PY scripts/compare_predictions.py "$preds" --data "$DATA" --out "$WORK/pooled.json"
if [ -n "$EVAL_ARGS" ] && head -1 "${preds%%,*}" | grep -q mixed; then  # INT8 against mixed, paired out of fold
  $PY scripts/compare_predictions.py "$preds" "$preds" --data "$DATA" --column int8 --column-b mixed \
    --out "$WORK/pooled-mixed.json"
fi
