#!/usr/bin/env bash
# Benchmark of the sum service on loopback, side by side in one run (wrk from Debian):
#   bare      examples/bare.rs, a bare actix handler returning a fixed JSON body
#   plain     examples/plain.rs, the sum as a plain actix handler is usually written (serde's
#             Json extractor, Iterator::sum, HttpResponse::json; no metrics, logs or checks)
#   metrics   the service, POST /api/v1/sum with 10 numbers, metrics recording on (default)
#   nometrics the same with --record-metrics false
#   nolog     metrics on, access log off (RUST_LOG=warn): shows what the per-request log costs
#   traceoff  the service with tracing configured but unsampled: an OTLP endpoint set and
#             OTEL_TRACES_SAMPLER=always_off (every request still gets a trace id in its log line)
#   traced    the service tracing every request (OTEL_TRACES_SAMPLER=always_on), exporting to a
#             local sink that reads each export request and answers 200 at once (pinned to CPU 1
#             with wrk, so that its work is not counted as the service's); the span counters
#             are printed after the timed rounds, to show that no span was dropped
#   bareos    the bare handler without actix's keep-alive timer (paired rounds and instruction
#             counts only): the service times idle connections its own way, not with that timer,
#             so this shows how much of the service/bare ratio that accounts for
# Each server gets 1 worker pinned to CPU 0 (taskset), wrk gets 1 thread pinned to CPU 1.
# Targets: service >= 0.85x bare, metrics cost <= 5%, tracing configured but unsampled <= 3%
# CPU per request over the service without tracing ("metrics"); the sampled cost is reported.
# The plain handler is a second reference point: what the same answer costs without the
# service's observability and checks.
#
# Three figures per server:
#   req/s         as wrk sees it;
#   CPU/request   the server's CPU time (utime+stime from /proc/PID/stat over the run, all its
#                 threads, kernel time included) divided by the requests wrk completed;
#   instructions  per request in user space, counted by valgrind's callgrind (when installed;
#                 BENCH_CALLGRIND=0 skips it): the same count whatever else the machine does.
#                 BENCH_CALLGRIND_OUT=DIR keeps the profiles (DIR/NAME.callgrind) for
#                 `callgrind_annotate --inclusive=yes`; build with
#                 CARGO_PROFILE_RELEASE_DEBUG=line-tables-only to see source lines in them.
# On a shared machine (a VM with stolen time, other builds) req/s swings by 2x from one second
# to the next, CPU/request by ±10%. So the servers run in many short rounds, each round in a
# rotated order, and every ratio is taken within a round (the servers of one round saw the same
# machine) and summarised by its median over the rounds, with the quartiles for the spread.
#
# Paired rounds (BENCH_PAIRED_ROUNDS, default 10; 0 skips them) then serve two servers at the
# same time, both on CPU 0 with one wrk each on CPU 1: the service against each other server in
# turn. Stolen time then hits both servers of a pair alike, so their CPU-per-request ratio
# spreads far less (quartiles within a few %) than the ratios of servers timed one after another.
#
# Usage: service/bench.sh [DURATION_PER_ROUND (default 2s)] [ROUNDS (default 15)] [CONNECTIONS (default 32)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${1:-2s}
rounds=${2:-15}
connections=${3:-32}
[[ $rounds =~ ^[1-9][0-9]*$ && $connections =~ ^[1-9][0-9]*$ ]] ||
  { echo "usage: $0 [DURATION] [ROUNDS >= 1] [CONNECTIONS >= 1]" >&2; exit 64; }

paired_rounds=${BENCH_PAIRED_ROUNDS:-10}
[[ $paired_rounds =~ ^[0-9]+$ ]] || { echo "BENCH_PAIRED_ROUNDS must be a whole number" >&2; exit 64; }
# shellcheck source=service/bench-lib.sh
source "$root/service/bench-lib.sh"

echo "==> cargo build --release (service binary, the bare and plain examples)" >&2
cargo build --release -p service --bin service --example bare --example plain >&2
bin=target/release/service
bare=target/release/examples/bare
plain=target/release/examples/plain


names=(bare plain metrics nometrics nolog traceoff traced)
# Served from the start too, but timed in the paired rounds and by callgrind only.
extra=(bareos)
# Starts one server; `$wrap` runs it (taskset, or valgrind). Run in the background: env,
# taskset and valgrind exec, so $! is the server's own pid (for its CPU time).
# The OTLP sink of traceoff and traced: reads each export request whole and answers 200 with
# an empty body (an ExportTraceServiceResponse with nothing rejected); decodes nothing.
sink_port=$(free_port)
cat >"$work/sink.py" <<'PY'
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
sink=(python3 "$work/sink.py" "$sink_port")
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then sink=(taskset -c 1 "${sink[@]}"); fi
"${sink[@]}" &  # taskset execs python: $! is the sink's own pid
sink_pid=$!
trap 'kill "$sink_pid" 2>/dev/null || true; cleanup' EXIT
otlp=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port")

server() { # name port metrics_port
  local service_args=(--listen "127.0.0.1:$2" --metrics-listen "127.0.0.1:$3" --workers 1 --shutdown-drain 0s)
  case $1 in
    bare) exec env $wrap "$bare" "127.0.0.1:$2" 1 ;;
    bareos) exec env $wrap "$bare" "127.0.0.1:$2" 1 no-keep-alive-timer ;;
    plain) exec env $wrap "$plain" "127.0.0.1:$2" 1 ;;
    metrics) exec env LOG_FORMAT=json RUST_LOG=info $wrap "$bin" "${service_args[@]}" ;;
    nometrics) exec env LOG_FORMAT=json RUST_LOG=info $wrap "$bin" "${service_args[@]}" --record-metrics false ;;
    nolog) exec env LOG_FORMAT=json RUST_LOG=warn $wrap "$bin" "${service_args[@]}" ;;
    traceoff) exec env LOG_FORMAT=json RUST_LOG=info "${otlp[@]}" OTEL_TRACES_SAMPLER=always_off $wrap "$bin" "${service_args[@]}" ;;
    traced) exec env LOG_FORMAT=json RUST_LOG=info "${otlp[@]}" OTEL_TRACES_SAMPLER=always_on $wrap "$bin" "${service_args[@]}" ;;
  esac
}
wait_ready() { # port tries
  for _ in $(seq "$2"); do
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d '{"numbers":[1,2]}' "http://127.0.0.1:$1/api/v1/sum" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "the server on port $1 did not answer" >&2; exit 1
}

declare -A port mport pid
wrap=""
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then wrap="taskset -c 0"; fi
for name in "${names[@]}" "${extra[@]}"; do
  port[$name]=$(free_port); mport[$name]=$(free_port)
  server "$name" "${port[$name]}" "${mport[$name]}" >/dev/null 2>&1 &
  pid[$name]=$!; pids+=($!)
done
for name in "${names[@]}" "${extra[@]}"; do wait_ready "${port[$name]}" 50; done
# The service answers correctly before it is timed.
curl -fsS -X POST -H 'Content-Type: application/json' -d "$sum_body" \
  "http://127.0.0.1:${port[metrics]}/api/v1/sum" | grep -q '"sum":57.125' || { echo "service answered wrongly" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
run_wrk() { # round name -> appends "round name rps cpu_us_per_request" to results
  local out rps p99 before after requests cpu_us
  before=$(cpu_ticks "${pid[$2]}")
  out=$(pin 1 wrk -t1 -c"$connections" -d"$duration" --latency -s "$work/post.lua" "http://127.0.0.1:${port[$2]}/api/v1/sum")
  after=$(cpu_ticks "${pid[$2]}")
  if grep -q "Non-2xx" <<<"$out"; then echo "$2: non-2xx answers during the run:" >&2; echo "$out" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu_us=$(awk -v b="$before" -v a="$after" -v t="$ticks" -v n="$requests" 'BEGIN {printf "%.2f", (a - b) / t * 1e6 / n}')
  echo "$1 $2 $rps $cpu_us" >>"$work/results"
  printf '  %-10s %10s req/s   p99 %-9s %8s µs CPU/request\n' "$2" "$rps" "$p99" "$cpu_us" >&2
}

echo "==> warm-up" >&2
for name in "${names[@]}" "${extra[@]}"; do pin 1 wrk -t1 -c"$connections" -d1s -s "$work/post.lua" "http://127.0.0.1:${port[$name]}/api/v1/sum" >/dev/null; done
for r in $(seq "$rounds"); do
  echo "==> round $r of $rounds ($duration each, wrk -t1 -c$connections)" >&2
  for i in "${!names[@]}"; do run_wrk "$r" "${names[$(((r + i) % ${#names[@]}))]}"; done
done

# Spans of the traced server so far: every one exported, none dropped or failed, or the sink
# did not keep up and the sampled figure is too low.
spans() { curl -fsS "http://127.0.0.1:${mport[traced]}/metrics" | awk -F'[{}"]' '/^sumapi_trace_spans_total/ {printf "%s %s  ", $3, $5}'; }
echo "traced server's spans after the timed rounds: $(spans)" >&2

# Per-round ratios: "round bare_rps bare_cpu metrics_rps metrics_cpu nometrics_rps ... nolog_cpu
# plain_rps plain_cpu traceoff_rps traceoff_cpu traced_rps traced_cpu".
awk '{v[$1, $2 "_rps"] = $3; v[$1, $2 "_cpu"] = $4; r[$1] = 1}
  END {for (i in r) print i, v[i,"bare_rps"], v[i,"bare_cpu"], v[i,"metrics_rps"], v[i,"metrics_cpu"],
    v[i,"nometrics_rps"], v[i,"nometrics_cpu"], v[i,"nolog_rps"], v[i,"nolog_cpu"],
    v[i,"plain_rps"], v[i,"plain_cpu"], v[i,"traceoff_rps"], v[i,"traceoff_cpu"],
    v[i,"traced_rps"], v[i,"traced_cpu"]}' "$work/results" >"$work/rounds"
# stats: numbers on stdin -> "q1 median q3"
stats() {
  sort -g | awk '{a[NR]=$1} END {
    printf "%.3f %.3f %.3f\n", a[int((NR+3)/4)], (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2, a[int((3*NR+3)/4)] }'
}
# quartiles EXPR -> "q1 median q3" of EXPR over the rounds ($2..$11 as above)
quartiles() { awk "{print $1}" "$work/rounds" | stats; }
read -r rps_q1 rps_med rps_q3 < <(quartiles '$4/$2')
read -r cpu_q1 cpu_med cpu_q3 < <(quartiles '$3/$5')
read -r mo_q1 mo_med mo_q3 < <(quartiles '($6-$4)/$6*100')
read -r mc_q1 mc_med mc_q3 < <(quartiles '($5-$7)/$5*100')
read -r _ log_med _ < <(quartiles '$5-$9')
read -r _ nolog_med _ < <(quartiles '$3/$9')
read -r pr_q1 pr_med pr_q3 < <(quartiles '$4/$10')
read -r pc_q1 pc_med pc_q3 < <(quartiles '$11/$5')
read -r to_q1 to_med to_q3 < <(quartiles '($13-$5)/$5*100')
read -r ts_q1 ts_med ts_q3 < <(quartiles '($15-$5)/$5*100')
column_median() { quartiles "\$$1" | awk '{print $2}'; }

echo
echo "medians over $rounds rounds of $duration (wrk -t1 -c$connections on CPU 1; each server 1 worker on CPU 0):"
printf '  %-38s %12s %18s\n' "" "req/s" "CPU µs/request"
printf '  %-38s %12.0f %18.2f\n' "bare actix handler (fixed JSON)" "$(column_median 2)" "$(column_median 3)"
printf '  %-38s %12.0f %18.2f\n' "plain actix handler (serde, same JSON)" "$(column_median 10)" "$(column_median 11)"
printf '  %-38s %12.0f %18.2f\n' "service, metrics on (default)" "$(column_median 4)" "$(column_median 5)"
printf '  %-38s %12.0f %18.2f\n' "service, metrics off" "$(column_median 6)" "$(column_median 7)"
printf '  %-38s %12.0f %18.2f\n' "service, metrics on, access log off" "$(column_median 8)" "$(column_median 9)"
printf '  %-38s %12.0f %18.2f\n' "service, tracing on, unsampled" "$(column_median 12)" "$(column_median 13)"
printf '  %-38s %12.0f %18.2f\n' "service, tracing every request" "$(column_median 14)" "$(column_median 15)"
echo "ratios within each round, median [quartiles]:"
verdict() { awk -v x="$1" -v op="$2" -v t="$3" 'BEGIN {ok = (op == ">=") ? x >= t : x <= t; print ok ? "met" : "NOT met"}'; }
# Servers timed one after the other see different stolen time: with paired rounds to come,
# their ratios are shown but the targets are judged on the paired ones only.
sequential_verdict() { if ((paired_rounds > 0)); then echo "judged on the paired rounds"; else verdict "$@"; fi; }
printf '  service / bare, by req/s               %6.3f [%.3f, %.3f]  (target >= 0.85: %s)\n' "$rps_med" "$rps_q1" "$rps_q3" "$(sequential_verdict "$rps_med" ">=" 0.85)"
printf '  service / bare, by CPU per request     %6.3f [%.3f, %.3f]  (target >= 0.85: %s)\n' "$cpu_med" "$cpu_q1" "$cpu_q3" "$(sequential_verdict "$cpu_med" ">=" 0.85)"
printf '  metrics overhead, by req/s             %5.1f%% [%.1f%%, %.1f%%]  (target <= 5%%: %s)\n' "$mo_med" "$mo_q1" "$mo_q3" "$(sequential_verdict "$mo_med" "<=" 5)"
printf '  metrics overhead, by CPU per request   %5.1f%% [%.1f%%, %.1f%%]  (target <= 5%%: %s)\n' "$mc_med" "$mc_q1" "$mc_q3" "$(sequential_verdict "$mc_med" "<=" 5)"
printf '  (access log: %.1f µs CPU/request; service without it / bare, by CPU: %.3f)\n' "$log_med" "$nolog_med"
printf '  service / plain handler, by req/s       %6.3f [%.3f, %.3f]\n' "$pr_med" "$pr_q1" "$pr_q3"
printf '  service / plain handler, by CPU         %6.3f [%.3f, %.3f]\n' "$pc_med" "$pc_q1" "$pc_q3"
printf '  tracing unsampled, by CPU per request  %5.1f%% [%.1f%%, %.1f%%]  (target <= 3%%: %s)\n' "$to_med" "$to_q1" "$to_q3" "$(sequential_verdict "$to_med" "<=" 3)"
printf '  tracing every request, by CPU          %5.1f%% [%.1f%%, %.1f%%]\n' "$ts_med" "$ts_q1" "$ts_q3"

if ((paired_rounds > 0)); then
  # run_pair ROUND OTHER: the service ("metrics") and OTHER served at once; appends
  # "round other other_rps other_cpu metrics_rps metrics_cpu" to pairs.
  run_pair() {
    local a0 b0 a1 b1 wa wb ra rb
    a0=$(cpu_ticks "${pid[$2]}"); b0=$(cpu_ticks "${pid[metrics]}")
    pin 1 wrk -t1 -c"$connections" -d"$duration" -s "$work/post.lua" "http://127.0.0.1:${port[$2]}/api/v1/sum" >"$work/wrk.a" & wa=$!
    pin 1 wrk -t1 -c"$connections" -d"$duration" -s "$work/post.lua" "http://127.0.0.1:${port[metrics]}/api/v1/sum" >"$work/wrk.b" & wb=$!
    wait "$wa" "$wb"
    a1=$(cpu_ticks "${pid[$2]}"); b1=$(cpu_ticks "${pid[metrics]}")
    if grep -q "Non-2xx" "$work/wrk.a" "$work/wrk.b"; then echo "non-2xx answers in a paired run" >&2; exit 1; fi
    ra=$(awk '/requests in/ {print $1}' "$work/wrk.a"); rb=$(awk '/requests in/ {print $1}' "$work/wrk.b")
    awk -v r="$1" -v n="$2" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v ra="$ra" -v rb="$rb" -v t="$ticks" \
      'BEGIN {printf "%s %s %s %.3f %s %.3f\n", r, n, ra, a / t * 1e6 / ra, rb, b / t * 1e6 / rb}' >>"$work/pairs"
  }
  others=(bare plain nometrics nolog bareos traceoff traced)
  for r in $(seq "$paired_rounds"); do
    echo "==> paired round $r of $paired_rounds (the service and one other at once, $duration each)" >&2
    for i in "${!others[@]}"; do run_pair "$r" "${others[$(((r + i) % ${#others[@]}))]}"; done
  done
  # paired_quartiles OTHER EXPR -> "q1 median q3" of EXPR ($3 other rps, $4 other cpu, $5
  # service rps, $6 service cpu) over that pair's rounds
  paired_quartiles() { awk -v n="$1" "\$2 == n {print $2}" "$work/pairs" | stats; }

  read -r q1 med q3 < <(paired_quartiles bare '$4/$6')
  echo "paired rounds ($paired_rounds x $duration; the two servers of a pair served at the same time):"
  printf '  service / bare, by CPU per request     %6.3f [%.3f, %.3f]  (target >= 0.85: %s)\n' "$med" "$q1" "$q3" "$(verdict "$med" ">=" 0.85)"
  read -r q1 med q3 < <(paired_quartiles bare '$5/$3')
  printf '  service / bare, by req/s (wrk shares)  %6.3f [%.3f, %.3f]\n' "$med" "$q1" "$q3"
  read -r q1 med q3 < <(paired_quartiles nometrics '($6-$4)/$6*100')
  printf '  metrics overhead, by CPU per request   %5.1f%% [%.1f%%, %.1f%%]  (target <= 5%%: %s)\n' "$med" "$q1" "$q3" "$(verdict "$med" "<=" 5)"
  read -r q1 med q3 < <(paired_quartiles nolog '($6-$4)/$6*100')
  printf '  access log, share of the service CPU   %5.1f%% [%.1f%%, %.1f%%]\n' "$med" "$q1" "$q3"
  read -r q1 med q3 < <(paired_quartiles plain '$4/$6')
  printf '  service / plain handler, by CPU        %6.3f [%.3f, %.3f]\n' "$med" "$q1" "$q3"
  read -r q1 med q3 < <(paired_quartiles bareos '$4/$6')
  printf '  service / bare without actix keep-alive timer, by CPU  %6.3f [%.3f, %.3f]\n' "$med" "$q1" "$q3"
  read -r q1 med q3 < <(paired_quartiles traceoff '($4-$6)/$6*100')
  printf '  tracing unsampled, by CPU per request  %5.1f%% [%.1f%%, %.1f%%]  (target <= 3%%: %s)\n' "$med" "$q1" "$q3" "$(verdict "$med" "<=" 3)"
  read -r q1 med q3 < <(paired_quartiles traced '($4-$6)/$6*100')
  printf '  tracing every request, by CPU          %5.1f%% [%.1f%%, %.1f%%]\n' "$med" "$q1" "$q3"
  echo "  (traced server's spans at the end: $(spans))"
fi

for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true  # not the sink, which callgrind's traced servers still use
pids=()

[[ ${BENCH_CALLGRIND:-1} == 1 ]] || exit 0
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  echo "(valgrind not installed: no instruction counts; Debian package valgrind)"; exit 0
fi
# Instructions per request: each server alone under callgrind, counters zeroed after a
# warm-up, then a fixed-length wrk run at low concurrency (valgrind runs ~50x slower).
instructions() { # name -> instructions per request
  local name=$1 p out file total requests
  p=$(free_port)
  wrap="valgrind --tool=callgrind --callgrind-out-file=$work/cg.$name"
  server "$name" "$p" "$(free_port)" >/dev/null 2>&1 &
  local vpid=$!; pids+=($vpid)
  wait_ready "$p" 300
  pin 1 wrk -t1 -c4 -d2s -s "$work/post.lua" "http://127.0.0.1:$p/api/v1/sum" >/dev/null
  callgrind_control -z "$vpid" >/dev/null 2>&1
  out=$(pin 1 wrk -t1 -c4 -d5s -s "$work/post.lua" "http://127.0.0.1:$p/api/v1/sum")
  callgrind_control -d "$vpid" >/dev/null 2>&1
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  file=$(ls -S "$work/cg.$name".* | head -1)
  total=$(awk '/^totals:/ {print $2}' "$file")
  if [[ -n ${BENCH_CALLGRIND_OUT:-} ]]; then mkdir -p "$BENCH_CALLGRIND_OUT" && cp "$file" "$BENCH_CALLGRIND_OUT/$name.callgrind"; fi
  kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true
  awk -v t="$total" -v n="$requests" 'BEGIN {printf "%.0f", t / n}'
}
echo "==> instruction counts (callgrind)" >&2
i_bare=$(instructions bare); i_plain=$(instructions plain); i_on=$(instructions metrics); i_off=$(instructions nometrics)
i_bareos=$(instructions bareos); i_toff=$(instructions traceoff); i_traced=$(instructions traced)
echo "user-space instructions per request (callgrind, deterministic):"
printf '  %-38s %12s\n' "bare actix handler (fixed JSON)" "$i_bare"
printf '  %-38s %12s\n' "  the same, no actix keep-alive timer" "$i_bareos"
printf '  %-38s %12s\n' "plain actix handler (serde, same JSON)" "$i_plain"
printf '  %-38s %12s\n' "service, metrics on (default)" "$i_on"
printf '  %-38s %12s\n' "service, metrics off" "$i_off"
printf '  %-38s %12s\n' "service, tracing on, unsampled" "$i_toff"
printf '  %-38s %12s\n' "service, tracing every request" "$i_traced"
awk -v b="$i_bare" -v bo="$i_bareos" -v p="$i_plain" -v on="$i_on" -v off="$i_off" -v toff="$i_toff" -v tr="$i_traced" 'BEGIN {
  printf "  tracing unsampled, by instructions      %5.1f%%  (target <= 3%%)\n", (toff - on) / on * 100;
  printf "  tracing every request, by instructions  %5.1f%%\n", (tr - on) / on * 100;
  printf "  service / bare, by instructions         %6.3f\n", b / on;
  printf "  service / bare without keep-alive timer %6.3f\n", bo / on;
  printf "  service / plain handler, by instr.      %6.3f\n", p / on;
  printf "  metrics overhead, by instructions       %5.1f%%\n", (on - off) / on * 100 }'
