#!/usr/bin/env bash
# Benchmarks loadgen against wrk and oha, side by side in one run, and prints the ratios the
# loadgen issue sets as targets:
#   1. peak throughput, closed model, 64 connections, against nginx serving a static 200 on a
#      loopback port: loadgen >= 1.0x oha and >= 0.8x wrk requests/s; CPU s/request <= 1.25x wrk
#      (loadgen also runs once with LOADGEN_HTTP1_DRIVER=hyper, its former HTTP/1.1 path, as
#      "lg-hyper", for a before/after in the same run)
#   2. RSS of a 10 s and a 120 s loadgen run at the same rate: within 10%
#   3. open model accuracy: achieved rate within 1% of target at 20/50/80% of the closed peak
# Usage: scripts/bench-loadgen.sh [SECONDS]   (peak-run length, default 10; the RSS pair always
# runs 10 s and 120 s). Installs oha (cargo install) and nginx/wrk (scripts/deps/apt.sh) when
# missing. Traffic goes to 127.0.0.1 only; everything it starts is stopped on exit.
set -euo pipefail

secs=${1:-10}
conns=64
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v nginx >/dev/null && command -v wrk >/dev/null || scripts/deps/apt.sh nginx wrk
if [[ ! -x /usr/bin/time ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null; then
  echo "installing oha (cargo install oha --locked) ..." >&2
  cargo install oha --locked >&2
fi
command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)" >&2; exit 1; }

echo "building loadgen (release) ..." >&2
cargo build --release -p loadgen >&2
loadgen="$root/target/release/loadgen"

work=$(mktemp -d /tmp/bench-loadgen.XXXXXX)
nginx_pid=""
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/logs" "$work/tmp"
cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / { return 200 "ok\n"; }
  }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"
echo "nginx (1 process) on $url; $(nproc) CPUs; each tool runs ${secs}s with $conns connections" >&2

# Runs a command under /usr/bin/time; prints "user+sys max_rss_kb" into $work/time.
timed() { /usr/bin/time -f "%U %S %M" -o "$work/time" "$@"; }
# (the last line: /usr/bin/time puts "Command exited with non-zero status N" before it)
cpu_of() { tail -n 1 "$work/time" | awk '{ printf "%.3f", $1 + $2 }'; }
rss_of() { tail -n 1 "$work/time" | awk '{ print $3 }'; }

# --- 1. peak throughput, closed model ---
timed wrk -t"$(nproc)" -c"$conns" -d"${secs}s" "$url" >"$work/wrk.txt"
wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
wrk_reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
wrk_cpu=$(cpu_of)

timed oha -z "${secs}s" -c "$conns" --no-tui --output-format json "$url" >"$work/oha.json"
oha_rps=$(jq '.summary.requestsPerSec' "$work/oha.json")
oha_reqs=$(jq '[.statusCodeDistribution[]] | add' "$work/oha.json")
oha_cpu=$(cpu_of)

timed "$loadgen" run "$url" -c "$conns" -z "${secs}s" --quiet --json "$work/closed.json" >/dev/null || true
lg_rps=$(jq '.achieved_rate' "$work/closed.json")
lg_reqs=$(jq '.requests.total' "$work/closed.json")
lg_cpu=$(cpu_of)

LOADGEN_HTTP1_DRIVER=hyper timed "$loadgen" run "$url" -c "$conns" -z "${secs}s" --quiet --json "$work/closed-hyper.json" >/dev/null || true
lgh_rps=$(jq '.achieved_rate' "$work/closed-hyper.json")
lgh_reqs=$(jq '.requests.total' "$work/closed-hyper.json")
lgh_cpu=$(cpu_of)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_req_us() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", c / n * 1e6 }'; }
echo
echo "== peak throughput, closed model, $conns connections, ${secs}s =="
printf "%-8s %12s %12s %14s\n" tool "req/s" "cpu s" "cpu us/req"
printf "%-8s %12.0f %12s %14s\n" wrk "$wrk_rps" "$wrk_cpu" "$(per_req_us "$wrk_cpu" "$wrk_reqs")"
printf "%-8s %12.0f %12s %14s\n" oha "$oha_rps" "$oha_cpu" "$(per_req_us "$oha_cpu" "$oha_reqs")"
printf "%-8s %12.0f %12s %14s\n" loadgen "$lg_rps" "$lg_cpu" "$(per_req_us "$lg_cpu" "$lg_reqs")"
printf "%-8s %12.0f %12s %14s\n" lg-hyper "$lgh_rps" "$lgh_cpu" "$(per_req_us "$lgh_cpu" "$lgh_reqs")"
echo "loadgen/oha req/s:          $(ratio "$lg_rps" "$oha_rps")   (target >= 1.00)"
echo "loadgen/wrk req/s:          $(ratio "$lg_rps" "$wrk_rps")   (target >= 0.80)"
lg_cpr=$(awk -v c="$lg_cpu" -v n="$lg_reqs" 'BEGIN { print c / n }')
wrk_cpr=$(awk -v c="$wrk_cpu" -v n="$wrk_reqs" 'BEGIN { print c / n }')
echo "loadgen/wrk CPU per request: $(ratio "$lg_cpr" "$wrk_cpr")   (target <= 1.25)"
lgh_cpr=$(awk -v c="$lgh_cpu" -v n="$lgh_reqs" 'BEGIN { print c / n }')
echo "loadgen/lg-hyper CPU per request: $(ratio "$lg_cpr" "$lgh_cpr")   (lean HTTP/1.1 driver vs hyper's)"

# --- 2. memory stays flat: RSS of 10 s vs 120 s at the same rate ---
rss_rate=$(awk -v p="$lg_rps" 'BEGIN { printf "%d", p * 0.5 }')
timed "$loadgen" run "$url" -c "$conns" -r "$rss_rate" -z 10s --quiet --json "$work/rss10.json" >/dev/null || true
rss10=$(rss_of)
timed "$loadgen" run "$url" -c "$conns" -r "$rss_rate" -z 120s --quiet --json "$work/rss120.json" >/dev/null || true
rss120=$(rss_of)
echo
echo "== memory, open model at $rss_rate req/s =="
echo "max RSS 10 s: ${rss10} KiB ($(jq -r '.requests.total' "$work/rss10.json") requests, $(jq -r .verdict "$work/rss10.json"))" \
  "  120 s: ${rss120} KiB ($(jq -r '.requests.total' "$work/rss120.json") requests, $(jq -r .verdict "$work/rss120.json"))" \
  "  ratio $(ratio "$rss120" "$rss10")   (target within 1.10)"

# --- 3. open model accuracy ---
echo
echo "== open model accuracy (${secs}s each) =="
printf "%-10s %12s %12s %10s %10s %10s %9s\n" "of peak" "target" "achieved" "ratio" "verdict" "lag p99" "gen busy"
for pct in 20 50 80; do
  rate=$(awk -v p="$lg_rps" -v f="$pct" 'BEGIN { printf "%d", p * f / 100 }')
  "$loadgen" run "$url" -c "$conns" -r "$rate" -z "${secs}s" --quiet --json "$work/open.json" >/dev/null || true
  achieved=$(jq '.achieved_rate' "$work/open.json")
  printf "%-10s %12d %12.1f %10s %10s %8sms %9s\n" "$pct%" "$rate" "$achieved" "$(awk -v a="$achieved" -v t="$rate" 'BEGIN { printf "%.4f", a / t }')" \
    "$(jq -r '.verdict' "$work/open.json")" "$(jq -r '.self_check.schedule_lag_ms.p99 // "n/a"' "$work/open.json")" \
    "$(jq -r '.self_check.generator_busy // "n/a" | if type == "number" then (. * 100 | floor | tostring) + "%" else . end' "$work/open.json")"
done
