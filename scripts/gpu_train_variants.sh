#!/usr/bin/env bash
# The GPU run behind weights/efficientnet_b0_ham10000.safetensors (weights/MODEL_CARD.md, "GPU run").
#
# On a lent GPU machine, from the repository root: times base and QAT steps (scripts/gpu_probe.py, three
# processes at once, as the variants will run), sizes the base fine-tuning so that three variants (E, ~0.6 E,
# ~0.35 E epochs at RES px, the stage-1 recipe otherwise) and their QAT stage (2 epochs, dual float +
# fake-quant loss) end before DEADLINE_S, runs them in parallel, and copies each checkpoint to OUT as it is
# written. Selection among the variants is made afterwards on the validation split with the integer reference
# (`sramflow evaluate --split val`); the data sent to the GPU machine holds no test images at all.
#
#   DATA=.devdata/ham10000 OUT=/tmp/o [PY=python3] [DEADLINE_S=480] [RES=224] scripts/gpu_train_variants.sh
set -u
. "$(dirname "$0")/deadline.sh"
PY=${PY:-python3}
DATA=${DATA:?set DATA to the HAM10000 folder}
OUT=${OUT:?set OUT to the folder the checkpoints are copied to}
DEADLINE_S=${DEADLINE_S:-480}
RES=${RES:-224}
WORKERS=${WORKERS:-4}
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-build/gpu}
EXTRA=${EXTRA:-}        # extra training arguments (the CPU dry run uses --batch-size 8 --warmup-steps 1)
PROBE_STEPS=${PROBE_STEPS:-20}
EPOCHS=${EPOCHS:-}      # fixed "E1 E2 E3" instead of sizing from the probe
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
mkdir -p "$WORK" "$OUT"
LOG=$WORK/run.log
echo "start $(date -u +%FT%TZ) res $RES deadline ${DEADLINE_S}s workers $WORKERS device $DEVICE" | tee "$LOG"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; nproc; $PY -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)') >> "$LOG" 2>&1

if [ -z "$EPOCHS" ]; then
  for i in 1 2 3; do
    timeout 120 $PY scripts/gpu_probe.py --resolution "$RES" --steps "$PROBE_STEPS" --device "$DEVICE" > "$WORK/probe$i.json" 2>> "$LOG" &
  done
  wait
  cat "$WORK"/probe*.json >> "$LOG"
  EPOCHS=$($PY - "$WORK" "$DEADLINE_S" "$(elapsed)" <<'PYEOF'
import json, pathlib, sys
work, deadline, now = pathlib.Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
probes = [json.loads(p.read_text()) for p in sorted(work.glob("probe*.json")) if p.read_text().strip()]
if not probes:
    print("8 5 3"); sys.exit()
tb = max(p["base_step_s"] for p in probes)
tq = max(p["qat_step_s"] for p in probes)
train_steps, qat_steps = 186, 373          # 5,970 training images, batch 32; QAT 2 epochs
budget = deadline - now - 75               # decoding, per-epoch validation, final evaluations, copies
e = int((budget - qat_steps * tq) / (train_steps * tb + 2.0))
e = max(2, min(e, 40))
print(e, max(2, round(0.6 * e)), max(2, round(0.35 * e)))
PYEOF
)
fi
echo "epochs per variant: $EPOCHS (at $(elapsed)s)" | tee -a "$LOG"

variant() {  # $1 name, $2 epochs
  local name=$1 epochs=$2 d=$WORK/$1
  mkdir -p "$d"
  $PY -m sramflow.train --data "$DATA" --model efficientnet_b0 --resolution "$RES" --epochs "$epochs" \
      --device "$DEVICE" --workers "$WORKERS" --threads 1 $EXTRA --out "$d/base/" > "$d.log" 2>&1 \
    && cp "$d/base/efficientnet_b0_ham10000.safetensors" "$OUT/$name-base.safetensors" \
    && $PY -m sramflow.train --data "$DATA" --model efficientnet_b0 --resolution "$RES" --device "$DEVICE" \
      --workers "$WORKERS" --threads 1 $EXTRA --qat-from "$d/base/efficientnet_b0_ham10000.safetensors" \
      --qat-epochs 2 --lr 3e-5 --qat-float-weight 0.5 --out "$d/qat/" >> "$d.log" 2>&1 \
    && cp "$d/qat/efficientnet_b0_ham10000.safetensors" "$OUT/$name-qat.safetensors"
  echo "variant $name ($epochs epochs) exit $? at $(elapsed)s" >> "$d.log"
}

pids=()
k=0
for e in $EPOCHS; do
  k=$((k + 1))
  setsid bash -c "$(declare -f variant elapsed); T0=$T0; PY='$PY' DATA='$DATA' OUT='$OUT' RES='$RES' DEVICE='$DEVICE' \
    WORKERS='$WORKERS' WORK='$WORK' EXTRA='$EXTRA'; variant v$k-e$e $e" &
  pids+=($!)
done
stop_at_deadline "${pids[@]}"
echo "end at $(elapsed)s" | tee -a "$LOG"
tail -n 3 "$WORK"/v*.log | tee -a "$LOG"
tar -czf "$OUT/logs.tar.gz" -C "$WORK" --exclude='*.safetensors' . 2>/dev/null
ls -la "$OUT"
