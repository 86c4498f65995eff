# Sourced by the lent-GPU scripts (gpu_cv224.sh, gpu_train_variants.sh): wait for background process groups until
# they end or DEADLINE_S seconds after T0 have passed, then stop the ones still running (their whole group) and
# say so in LOG. Usage: stop_at_deadline PID...
stop_at_deadline() {
  local p alive
  while [ $(( $(date +%s) - T0 )) -lt "$DEADLINE_S" ]; do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 2
  done
  for p in "$@"; do
    if kill -0 "$p" 2>/dev/null; then
      echo "deadline: stopping pid $p at $(( $(date +%s) - T0 ))s" | tee -a "$LOG"
      kill -- -"$p" 2>/dev/null
    fi
  done
  sleep 2
}
