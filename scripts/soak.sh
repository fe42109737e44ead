#!/usr/bin/env bash
# soak.sh — a leak check under load: runs `onyx bench MODEL --duration SEC
# --concurrency N --check` (every run's outputs compared with the first's)
# while sampling the process's resident memory once a second, then fits a
# line to the samples after warm-up (the first 20%) and reports its slope.
# A runtime that leaks grows steadily; one that does not stays flat within
# the allocator's noise. Exit 1 when the slope exceeds LIMIT bytes/min
# (default 1 MiB/min) or the bench fails.
# Usage: scripts/soak.sh ONYX MODEL [SEC=600] [N=4] [LIMIT_BYTES_PER_MIN]
set -euo pipefail
onyx=$1 model=$2 secs=${3:-600} conc=${4:-4} limit=${5:-1048576}
log=$(mktemp)
trap 'rm -f "$log" "$log.rss"' EXIT
"$onyx" bench "$model" --duration "$secs" --concurrency "$conc" --check >"$log" 2>&1 &
pid=$!
: >"$log.rss"
while kill -0 "$pid" 2>/dev/null; do
  awk -v t="$SECONDS" '/^VmRSS:/ {print t, $2 * 1024}' "/proc/$pid/status" 2>/dev/null >>"$log.rss" || true
  sleep 1
done
wait "$pid" || { echo "soak: bench failed:"; tail -n 20 "$log"; exit 1; }
grep -E "^(latency|throughput|check)" "$log" || true
awk -v limit="$limit" '
  { t[NR] = $1; r[NR] = $2 }
  END {
    if (NR < 10) { print "soak: too few samples"; exit 1 }
    s = int(NR / 5) + 1; n = 0; st = sr = stt = str = 0
    for (i = s; i <= NR; i++) { n++; st += t[i]; sr += r[i]; stt += t[i] * t[i]; str += t[i] * r[i] }
    slope = (n * str - st * sr) / (n * stt - st * st) * 60
    printf "soak: %d RSS samples; after warm-up %.1f MiB -> %.1f MiB; slope %.0f bytes/min (limit %d)\n",
           NR, r[s] / 1048576, r[NR] / 1048576, slope, limit
    exit slope > limit
  }' "$log.rss"
