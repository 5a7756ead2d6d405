#!/usr/bin/env bash
# The toolkit's main job, locally: the sum service behind the local gateway (answering like Kong),
# an authorised, a refused, a bypassing and a rate-limited call, the service's metrics, the
# gateway's policy verified by `loadgen ratelimit`, one canary round through the gateway, and a
# loadgen release gate with an HTML report. Every step's answer is checked: an unexpected one
# stops the demo with a line starting "demo failed" that says which step and what came back.
# Everything listens on 127.0.0.1 and is stopped when this script exits.
# Usage: scripts/demo.sh   (no arguments; -h prints this)
# Env: DEMO_SERVICE_PORT (default 18080), DEMO_METRICS_PORT (19090), DEMO_GATEWAY_PORT (18000):
#        where the service, its metrics and the local gateway listen; each must be free.
#      DEMO_OUT_DIR (default out/demo): logs and reports, cleared at the start of each run.
#      DEMO_BIN_DIR: run the binaries in this directory as they are, without installing nginx
#        or building (default: install nginx if missing, build and run target/release).
#      NO_COLOR: plain headings on a terminal too (they are plain whenever stdout is not one).
# Exit codes: 0 every step answered as expected, 1 a step did not or a port is taken,
#             64 usage error (an argument, or a variable above with a bad value).
set -euo pipefail
caller=$PWD
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# A relative DEMO_OUT_DIR or DEMO_BIN_DIR is taken from where the demo was started.
absolute() { if [[ $1 == /* ]]; then echo "$1"; else echo "$caller/$1"; fi; }

usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }
case ${1:-} in
  -h|--help) usage; exit 0 ;;
  '') ;;
  *) echo "demo.sh takes no arguments (got $1); the ports and directories are variables:" >&2
     usage >&2; exit 64 ;;
esac

# Headings in bold only for a terminal: a pipe or a file gets no escape codes.
if [[ -t 1 && -z ${NO_COLOR:-} ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
fail() { printf '\ndemo failed: %s\n' "$*" >&2; exit 1; }

port_of() { # VAR default
  local value=${!1:-$2}
  if [[ ! $value =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
    echo "$1 must be a port number from 1 to 65535, got '$value'" >&2
    exit 64
  fi
  echo $((10#$value))
}
service_port=$(port_of DEMO_SERVICE_PORT 18080)
metrics_port=$(port_of DEMO_METRICS_PORT 19090)
gateway_port=$(port_of DEMO_GATEWAY_PORT 18000)
if ((service_port == metrics_port || service_port == gateway_port || metrics_port == gateway_port)); then
  echo "DEMO_SERVICE_PORT ($service_port), DEMO_METRICS_PORT ($metrics_port) and DEMO_GATEWAY_PORT ($gateway_port) must differ" >&2
  exit 64
fi
out=$(absolute "${DEMO_OUT_DIR:-$root/out/demo}")
bin=$(absolute "${DEMO_BIN_DIR:-$root/target/release}")

# A port someone else listens on would answer in place of the demo's own process (which fails to
# bind): refuse it before anything starts. Checked again after the build, which takes a while.
check_ports() {
  local var port
  for var in DEMO_SERVICE_PORT DEMO_METRICS_PORT DEMO_GATEWAY_PORT; do
    case $var in
      DEMO_SERVICE_PORT) port=$service_port ;;
      DEMO_METRICS_PORT) port=$metrics_port ;;
      *) port=$gateway_port ;;
    esac
    # shellcheck disable=SC2016 # $0 is the port, expanded by the inner bash
    if timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$port" 2>/dev/null; then
      fail "port $port ($var) is already in use on 127.0.0.1 by another process; stop it, or pick a free port: $var=<port> scripts/demo.sh"
    fi
  done
}
if [[ -n ${DEMO_BIN_DIR:-} ]]; then
  for b in service local-gateway loadgen canary; do
    [[ -x $bin/$b ]] || { echo "DEMO_BIN_DIR=$bin has no executable $b" >&2; exit 64; }
  done
fi

# Clear what an earlier run left, so that no stale report or log passes for this run's. A
# directory named in DEMO_OUT_DIR is cleared only when empty or made by the demo (.demo-output).
if [[ $out != "$root/out/demo" && -e $out && ! -e $out/.demo-output && -n $(ls -A "$out" 2>/dev/null) ]]; then
  echo "DEMO_OUT_DIR=$out holds files the demo did not write; name an empty or new directory" >&2
  exit 64
fi
check_ports
rm -rf -- "$out"
mkdir -p -- "$out"
: >"$out/.demo-output"
answer_file=$out/answer.txt

if [[ -z ${DEMO_BIN_DIR:-} ]]; then
  say "Installing nginx and its Lua module if missing (the local gateway)"
  scripts/deps/apt.sh nginx libnginx-mod-http-lua

  say "Building the workspace (release)"
  cargo build --release --locked --bins
  check_ports
fi

# Fresh secrets for this run only. They reach the processes through the environment (as ECS
# injects them from Secrets Manager), never through argv.
rand() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
SUM_API_ORIGIN_SECRET=$(rand)
CANARY_API_KEY=$(rand) LOADGEN_API_KEY=$(rand) RELEASE_CHECK_API_KEY=$(rand) EXAMPLE_CUSTOMER_API_KEY=$(rand)
export SUM_API_ORIGIN_SECRET SERVICE_ORIGIN_SECRET=$SUM_API_ORIGIN_SECRET
export CANARY_API_KEY LOADGEN_API_KEY RELEASE_CHECK_API_KEY EXAMPLE_CUSTOMER_API_KEY

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_http() { # url what pid log
  for _ in $(seq 1 100); do
    kill -0 "$3" 2>/dev/null || fail "$2 exited while starting; the end of $4:
$(tail -n 20 "$4")"
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$2 did not come up at $1 within 10 s; see $4"
}

say "Starting the service on 127.0.0.1:$service_port (metrics on 127.0.0.1:$metrics_port)"
LOG_FORMAT=json "$bin/service" --listen "127.0.0.1:$service_port" \
  --metrics-listen "127.0.0.1:$metrics_port" --shutdown-drain 0s 2>"$out/service.log" &
pids+=($!)
wait_http "http://127.0.0.1:$service_port/healthz/ready" "the service" "$!" "$out/service.log"

say "Starting the local gateway on 127.0.0.1:$gateway_port from gateway/kong.yaml"
"$bin/local-gateway" --policy gateway/kong.yaml --upstream "127.0.0.1:$service_port" \
  --listen "127.0.0.1:$gateway_port" 2>"$out/gateway.log" &
pids+=($!)
wait_http "http://127.0.0.1:$gateway_port/healthz" "the local gateway" "$!" "$out/gateway.log"
gw="http://127.0.0.1:$gateway_port"

# An API key read from the named variable reaches curl through a config on a pipe, so neither
# the terminal nor `ps` shows it.
key_config() { printf 'header = "apikey: %s"\n' "${!1}"; }

# Shows a curl command as typed (an API key by its variable's name, with `KEY=VAR` first), runs
# it and prints the answer, headers and body; the status lands in $status.
call() {
  local var=''
  if [[ $1 == KEY=* ]]; then var=${1#KEY=}; shift; fi
  printf '$ curl -sS -i'; printf ' %q' "$@"
  if [[ -n $var ]]; then printf ' -H "apikey: $%s"' "$var"; fi
  printf '\n'
  : >"$answer_file"
  status=$(curl -sS -i -o "$answer_file" -w '%{http_code}' "$@" \
    --config <(if [[ -n $var ]]; then key_config "$var"; fi)) || status=000
  cat "$answer_file"
  echo
}
# Stops the demo unless the last call answered with this status and, if given, this fragment.
expect_answer() { # step status [fragment]
  [[ $status == "$2" ]] || fail "$1: expected HTTP $2, got ${status/#000/no answer}"
  [[ -z ${3:-} ]] || grep -qF -- "$3" "$answer_file" || fail "$1: the answer lacks $3"
}
sum_body='{"numbers":[1e16, 1, -1e16, 0.1, 0.2]}'

say "An authorised call through the gateway (the example customer's key)"
call KEY=EXAMPLE_CUSTOMER_API_KEY "$gw/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
expect_answer "the authorised call" 200 '"sum":1.3,'

say "A call without a key: the gateway refuses it"
call "$gw/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
expect_answer "the call without a key" 401

say "A call that bypasses the gateway: the service refuses it (no X-Origin-Secret)"
call "http://127.0.0.1:$service_port/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
expect_answer "the call bypassing the gateway" 403 FORBIDDEN_ORIGIN

say "Spending the example customer's quota (100 a minute in kong.yaml) until the gateway says 429"
limit_hit=""
for i in $(seq 1 150); do
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$gw/api/v1/sum" -H 'content-type: application/json' \
    -d '{"numbers":[1,2]}' --config <(key_config EXAMPLE_CUSTOMER_API_KEY)) || code=000
  if [[ $code == 429 ]]; then limit_hit=$i; break; fi
done
[[ -n $limit_hit ]] ||
  fail "no 429 within 150 requests: the gateway does not enforce what kong.yaml declares"
echo "request $limit_hit of this loop got 429 (one more was spent by the call above); the next one:"
call KEY=EXAMPLE_CUSTOMER_API_KEY "$gw/api/v1/sum" -H 'content-type: application/json' -d '{"numbers":[1,2]}'
expect_answer "the call over the quota" 429

say "The service's Prometheus metrics (excerpt)"
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") ||
  fail "the service's metrics at 127.0.0.1:$metrics_port did not answer"
grep -E '^sumapi_(http_requests_total|http_requests_rejected_total|build_info|ready)' <<<"$metrics" | head -20 || true
for line in 'sumapi_ready 1' 'sumapi_http_requests_rejected_total{code="FORBIDDEN_ORIGIN"} 1'; do
  grep -qxF -- "$line" <<<"$metrics" || fail "the service's metrics lack the line: $line"
done

# The last three steps each judge the run themselves; the demo shows all three, then fails if any
# did not pass.
failed=()

say "The gateway's policy, verified: loadgen ratelimit with the release-check consumer (10 a minute)"
set +e
"$bin/loadgen" ratelimit "$gw/api/v1/sum" --method POST --body '{"numbers":[1,2]}' \
  --header 'content-type: application/json' --key-header apikey \
  --key-env RELEASE_CHECK_API_KEY --second-key-env LOADGEN_API_KEY --limit 10/minute
ratelimit_rc=$?
set -e
echo "loadgen ratelimit exit code: $ratelimit_rc (0 as declared, 2 not)"
((ratelimit_rc == 0)) || failed+=("loadgen ratelimit exited $ratelimit_rc, expected 0: the gateway does not enforce 10/minute as declared")

say "One canary round through the gateway (stdout sink: no AWS account needed)"
set +e
"$bin/canary" run --once --target "$gw" --environment demo --sink stdout --rate-limit 20
canary_rc=$?
set -e
echo "canary exit code: $canary_rc"
((canary_rc == 0)) || failed+=("the canary round exited $canary_rc, expected 0: a probe failed")

say "A release gate: loadgen at 200 requests/s for 10 s through the gateway"
set +e
"$bin/loadgen" run "$gw/api/v1/sum" --method POST \
  --header 'content-type: application/json' --header-env 'apikey=LOADGEN_API_KEY' \
  --body '{"numbers":[1,2,3,4,5,6,7,8,9,10]}' \
  --rate 200 --duration 10s --warmup 2s \
  --slo 'p99<100ms' --slo 'error_rate<0.5%' --slo 'status_5xx==0' \
  --json "$out/report.json" --html "$out/report.html" --hlog "$out/run.hlog"
loadgen_rc=$?
set -e
echo "loadgen exit code: $loadgen_rc (0 pass, 2 SLO breach, 3 invalid run)"
((loadgen_rc == 0)) || failed+=("the release gate (loadgen run) exited $loadgen_rc, expected 0: see $out/report.html")

say "Done"
echo "HTML report: $out/report.html"
echo "JSON report: $out/report.json, interval log: $out/run.hlog"
echo "logs: $out/service.log, $out/gateway.log"
if ((${#failed[@]})); then
  for f in "${failed[@]}"; do printf 'demo failed: %s\n' "$f" >&2; done
  exit 1
fi
