#!/usr/bin/env bash
# Benchmark of the sum service on loopback, side by side in one run (wrk from Debian):
#   bare      examples/bare.rs, a bare actix handler returning a fixed JSON body
#   metrics   the service, POST /api/v1/sum with 10 numbers, metrics recording on (default)
#   nometrics the same with --record-metrics false
#   nolog     metrics on, access log off (RUST_LOG=warn): shows what the per-request log costs
# Each server gets 1 worker pinned to CPU 0 (taskset), wrk gets 1 thread pinned to CPU 1.
# Rounds are interleaved (bare, metrics, nometrics, repeated) and the median is reported, so
# that background load hits all three alike. Targets: service >= 0.85x bare, metrics cost <= 5%.
#
# Two figures per server: requests/s as wrk sees it, and the server's CPU time per request
# (utime+stime from /proc/PID/stat over the run, divided by the requests wrk completed). On a
# shared machine requests/s swings with other load; CPU per request does not, and its inverse
# is the throughput one core sustains. Ratios are printed for both.
#
# Usage: service/bench.sh [DURATION_PER_ROUND (default 10s)] [ROUNDS (default 3)] [CONNECTIONS (default 32)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${1:-10s}
rounds=${2:-3}
connections=${3:-32}

command -v wrk >/dev/null || { echo "wrk is missing: run scripts/deps/apt.sh (Debian package wrk)" >&2; exit 1; }
pin() { if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "==> cargo build --release (service binary and the bare example)" >&2
cargo build --release -p service --bin service --example bare >&2
bin=target/release/service
bare=target/release/examples/bare

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"numbers":[1.5,2.25,3,4.125,5,6.5,7,8.75,9,10]}'
wrk.headers["Content-Type"] = "application/json"
LUA

p_bare=$(free_port); p_on=$(free_port); m_on=$(free_port); p_off=$(free_port); m_off=$(free_port)
p_nolog=$(free_port); m_nolog=$(free_port)
# taskset and env exec the server, so $! is the server's own pid (for its CPU time).
cpu0=(); if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then cpu0=(taskset -c 0); fi
"${cpu0[@]}" "$bare" "127.0.0.1:$p_bare" 1 >/dev/null 2>&1 & pid_bare=$!; pids+=($!)
"${cpu0[@]}" env LOG_FORMAT=json RUST_LOG=info "$bin" --listen "127.0.0.1:$p_on" --metrics-listen "127.0.0.1:$m_on" \
  --workers 1 --shutdown-drain 0s 2>/dev/null & pid_on=$!; pids+=($!)
"${cpu0[@]}" env LOG_FORMAT=json RUST_LOG=info "$bin" --listen "127.0.0.1:$p_off" --metrics-listen "127.0.0.1:$m_off" \
  --workers 1 --shutdown-drain 0s --record-metrics false 2>/dev/null & pid_off=$!; pids+=($!)
"${cpu0[@]}" env LOG_FORMAT=json RUST_LOG=warn "$bin" --listen "127.0.0.1:$p_nolog" --metrics-listen "127.0.0.1:$m_nolog" \
  --workers 1 --shutdown-drain 0s 2>/dev/null & pid_nolog=$!; pids+=($!)
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for port in "$p_bare" "$p_on" "$p_off" "$p_nolog"; do
  for _ in $(seq 50); do
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d '{"numbers":[1,2]}' "http://127.0.0.1:$port/api/v1/sum" 2>/dev/null && break
    sleep 0.1
  done
done
# The service answers correctly before it is timed.
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"numbers":[1.5,2.25,3,4.125,5,6.5,7,8.75,9,10]}' \
  "http://127.0.0.1:$p_on/api/v1/sum" | grep -q '"sum":57.125' || { echo "service answered wrongly" >&2; exit 1; }

run_wrk() { # name port pid -> appends "name rps cpu_us_per_request" to results
  local out rps p99 before after requests cpu_us
  before=$(cpu_ticks "$3")
  out=$(pin 1 wrk -t1 -c"$connections" -d"$duration" --latency -s "$work/post.lua" "http://127.0.0.1:$2/api/v1/sum")
  after=$(cpu_ticks "$3")
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: non-2xx answers during the run:" >&2; echo "$out" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu_us=$(awk -v b="$before" -v a="$after" -v t="$ticks" -v n="$requests" 'BEGIN {printf "%.2f", (a - b) / t * 1e6 / n}')
  echo "$1 $rps $cpu_us" >>"$work/results"
  printf '  %-10s %10s req/s   p99 %-9s %8s µs CPU/request\n' "$1" "$rps" "$p99" "$cpu_us" >&2
}

echo "==> warm-up" >&2
for port in "$p_bare" "$p_on" "$p_off" "$p_nolog"; do pin 1 wrk -t1 -c"$connections" -d2s -s "$work/post.lua" "http://127.0.0.1:$port/api/v1/sum" >/dev/null; done
for r in $(seq "$rounds"); do
  echo "==> round $r of $rounds ($duration each, wrk -t1 -c$connections)" >&2
  run_wrk bare "$p_bare" "$pid_bare"
  run_wrk metrics "$p_on" "$pid_on"
  run_wrk nometrics "$p_off" "$pid_off"
  run_wrk nolog "$p_nolog" "$pid_nolog"
done

median() { # name column
  grep "^$1 " "$work/results" | awk -v c="$2" '{print $c}' | sort -g |
    awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
bare_rps=$(median bare 2); on_rps=$(median metrics 2); off_rps=$(median nometrics 2)
bare_cpu=$(median bare 3); on_cpu=$(median metrics 3); off_cpu=$(median nometrics 3)
nolog_rps=$(median nolog 2); nolog_cpu=$(median nolog 3)
echo
echo "medians over $rounds rounds of $duration (wrk -t1 -c$connections on CPU 1; each server 1 worker on CPU 0):"
printf '  %-38s %12s %18s\n' "" "req/s" "CPU µs/request"
printf '  %-38s %12.0f %18.2f\n' "bare actix handler (fixed JSON)" "$bare_rps" "$bare_cpu"
printf '  %-38s %12.0f %18.2f\n' "service, metrics on (default)" "$on_rps" "$on_cpu"
printf '  %-38s %12.0f %18.2f\n' "service, metrics off" "$off_rps" "$off_cpu"
printf '  %-38s %12.0f %18.2f\n' "service, metrics on, access log off" "$nolog_rps" "$nolog_cpu"
awk -v b="$bare_rps" -v on="$on_rps" -v off="$off_rps" -v bc="$bare_cpu" -v oc="$on_cpu" -v fc="$off_cpu" 'BEGIN {
  r = on / b; o = (off - on) / off * 100; rc = bc / oc; occ = (oc - fc) / oc * 100;
  printf "  service / bare, by req/s                %6.3f  (target >= 0.85: %s)\n", r, (r >= 0.85 ? "met" : "NOT met");
  printf "  service / bare, by CPU per request      %6.3f  (target >= 0.85: %s)\n", rc, (rc >= 0.85 ? "met" : "NOT met");
  printf "  metrics overhead, by req/s              %5.1f%%  (target <= 5%%: %s)\n", o, (o <= 5 ? "met" : "NOT met");
  printf "  metrics overhead, by CPU per request    %5.1f%%  (target <= 5%%: %s)\n", occ, (occ <= 5 ? "met" : "NOT met");
}'
awk -v b="$bare_cpu" -v n="$nolog_cpu" -v on="$on_cpu" 'BEGIN {
  printf "  (access log: %.1f µs CPU/request; service without it / bare, by CPU: %.3f)\n", on - n, b / n;
}'
