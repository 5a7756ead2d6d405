#!/usr/bin/env bash
# Paired A/B of two builds of the service: both serve at the same time, each with 1 worker on
# CPU 0, each under its own wrk (-t1 -c32, POST /api/v1/sum with 10 numbers) on CPU 1, so that
# stolen time hits both alike. Prints CPU per request of A over B per round, then the median
# and quartiles: above 1 means B is cheaper. Which wrk starts first alternates by round.
#
# Usage: service/bench-ab.sh BIN_A BIN_B [ROUNDS (default 10)] [DURATION (default 2s)]
#   e.g. git stash; cargo build --release -p service; cp target/release/service /tmp/a
#        git stash pop; cargo build --release -p service; service/bench-ab.sh /tmp/a target/release/service
set -euo pipefail
[[ $# -ge 2 && -x $1 && -x $2 ]] || { echo "usage: $0 BIN_A BIN_B [ROUNDS] [DURATION]" >&2; exit 64; }
a=$1 b=$2 rounds=${3:-10} duration=${4:-2s}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number >= 1" >&2; exit 64; }
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=service/bench-lib.sh
source "$root/service/bench-lib.sh"

pinned() { # cpu command... : exec'd (taskset execs too), so $! is the command's own pid
  if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi
}
start() { # bin port: starts the server in the background; its pid in $!
  (export LOG_FORMAT=json RUST_LOG=info
   pinned 0 "$1" --listen "127.0.0.1:$2" --metrics-listen "127.0.0.1:$(free_port)" \
     --workers 1 --shutdown-drain 0s >/dev/null 2>&1) &
}
pa=$(free_port); pb=$(free_port)
start "$a" "$pa"; ida=$!; pids+=("$ida")
start "$b" "$pb"; idb=$!; pids+=("$idb")
for port in "$pa" "$pb"; do
  ok=0
  for _ in $(seq 50); do
    if curl -fsS -X POST -H 'Content-Type: application/json' -d "$sum_body" \
      "http://127.0.0.1:$port/api/v1/sum" 2>/dev/null | grep -q '"sum":57.125'; then ok=1; break; fi
    sleep 0.2
  done
  ((ok)) || { echo "the server on port $port did not answer correctly" >&2; exit 1; }
done

run_wrk() { pin 1 wrk -t1 -c32 -d"$duration" -s "$work/post.lua" "http://127.0.0.1:$1/api/v1/sum" >"$2"; }
for r in $(seq "$rounds"); do
  a0=$(cpu_ticks "$ida"); b0=$(cpu_ticks "$idb")
  if ((r % 2)); then
    run_wrk "$pa" "$work/wa" & w1=$!; run_wrk "$pb" "$work/wb" & w2=$!
  else
    run_wrk "$pb" "$work/wb" & w1=$!; run_wrk "$pa" "$work/wa" & w2=$!
  fi
  wait "$w1" "$w2"
  a1=$(cpu_ticks "$ida"); b1=$(cpu_ticks "$idb")
  if grep -q "Non-2xx" "$work/wa" "$work/wb"; then echo "non-2xx answers during round $r" >&2; exit 1; fi
  na=$(awk '/requests in/ {print $1}' "$work/wa"); nb=$(awk '/requests in/ {print $1}' "$work/wb")
  awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v na="$na" -v nb="$nb" -v r="$r" \
    'BEGIN {printf "round %d: A/B CPU per request %.4f\n", r, (a / na) / (b / nb)}' | tee -a "$work/ratios" >&2
done
awk '{print $NF}' "$work/ratios" | sort -g | awk '{x[NR] = $1} END {
  printf "A/B CPU per request over %d rounds: median %.3f [%.3f, %.3f] (above 1: B is cheaper)\n",
    NR, (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2, x[int((NR + 3) / 4)], x[int((3 * NR + 3) / 4)] }'
