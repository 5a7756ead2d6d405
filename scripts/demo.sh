#!/usr/bin/env bash
# The toolkit's main job, locally: the sum service behind the local gateway (answering like Kong),
# an authorised, a refused, a bypassing and a rate-limited call, the service's metrics, the
# gateway's policy verified by `loadgen ratelimit`, one canary round through the gateway, and a
# loadgen release gate with an HTML report.
# Everything listens on 127.0.0.1 and is stopped when this script exits.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

service_port=${DEMO_SERVICE_PORT:-18080}
metrics_port=${DEMO_METRICS_PORT:-19090}
gateway_port=${DEMO_GATEWAY_PORT:-18000}
out="$root/out/demo"
bin="$root/target/release"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

say "Installing nginx and its Lua module if missing (the local gateway)"
scripts/deps/apt.sh nginx libnginx-mod-http-lua

say "Building the workspace (release)"
cargo build --release --locked --bins

mkdir -p "$out"
rm -f "$out"/*.log

# Fresh secrets for this run only. They reach the processes through the environment (as ECS
# injects them from Secrets Manager), never through argv.
rand() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
export SUM_API_ORIGIN_SECRET=$(rand)
export SERVICE_ORIGIN_SECRET=$SUM_API_ORIGIN_SECRET
export CANARY_API_KEY=$(rand) LOADGEN_API_KEY=$(rand) RELEASE_CHECK_API_KEY=$(rand) EXAMPLE_CUSTOMER_API_KEY=$(rand)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_http() { # url, what
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not come up at $1; see $out/*.log" >&2
  exit 1
}

say "Starting the service on 127.0.0.1:$service_port (metrics on 127.0.0.1:$metrics_port)"
LOG_FORMAT=json "$bin/service" --listen "127.0.0.1:$service_port" \
  --metrics-listen "127.0.0.1:$metrics_port" --shutdown-drain 0s 2>"$out/service.log" &
pids+=($!)
wait_http "http://127.0.0.1:$service_port/healthz/ready" "the service"

say "Starting the local gateway on 127.0.0.1:$gateway_port from gateway/kong.yaml"
"$bin/local-gateway" --policy gateway/kong.yaml --upstream "127.0.0.1:$service_port" \
  --listen "127.0.0.1:$gateway_port" 2>"$out/gateway.log" &
pids+=($!)
wait_http "http://127.0.0.1:$gateway_port/healthz" "the local gateway"
gw="http://127.0.0.1:$gateway_port"

# curl with an API key read from the named variable: the command shown names the variable, and
# the key reaches curl through a config on a pipe, so neither the terminal nor `ps` shows it.
key_config() { printf 'header = "apikey: %s"\n' "${!1}"; }
keyed_curl() { # VAR curl-args...
  local var=$1; shift
  printf '$ curl'; printf ' %q' "$@"; printf ' -H "apikey: $%s"\n' "$var"
  curl "$@" --config <(key_config "$var")
}
sum_body='{"numbers":[1e16, 1, -1e16, 0.1, 0.2]}'

say "An authorised call through the gateway (the example customer's key)"
keyed_curl EXAMPLE_CUSTOMER_API_KEY -sS -i "$gw/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
echo

say "A call without a key: the gateway refuses it"
show curl -sS -i "$gw/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
echo

say "A call that bypasses the gateway: the service refuses it (no X-Origin-Secret)"
show curl -sS -i "http://127.0.0.1:$service_port/api/v1/sum" -H 'content-type: application/json' -d "$sum_body"
echo

say "Spending the example customer's quota (100 a minute in kong.yaml) until the gateway says 429"
limit_hit=""
for i in $(seq 1 150); do
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$gw/api/v1/sum" -H 'content-type: application/json' \
    -d '{"numbers":[1,2]}' --config <(key_config EXAMPLE_CUSTOMER_API_KEY))
  if [[ $code == 429 ]]; then limit_hit=$i; break; fi
done
if [[ -n $limit_hit ]]; then
  echo "request $limit_hit of this loop got 429 (one more was spent by the call above); the next one:"
  keyed_curl EXAMPLE_CUSTOMER_API_KEY -sS -i "$gw/api/v1/sum" -H 'content-type: application/json' -d '{"numbers":[1,2]}'
  echo
else
  echo "no 429 within 150 requests: the gateway does not enforce what kong.yaml declares" >&2
fi

say "The service's Prometheus metrics (excerpt)"
curl -sS "http://127.0.0.1:$metrics_port/metrics" | grep -E '^sumapi_(http_requests_total|http_requests_rejected_total|build_info|ready)' | head -20

say "The gateway's policy, verified: loadgen ratelimit with the release-check consumer (10 a minute)"
set +e
"$bin/loadgen" ratelimit "$gw/api/v1/sum" --method POST --body '{"numbers":[1,2]}' \
  --header 'content-type: application/json' --key-header apikey \
  --key-env RELEASE_CHECK_API_KEY --second-key-env LOADGEN_API_KEY --limit 10/minute
ratelimit_rc=$?
set -e
echo "loadgen ratelimit exit code: $ratelimit_rc (0 as declared, 2 not)"

say "One canary round through the gateway (stdout sink: no AWS account needed)"
set +e
"$bin/canary" run --once --target "$gw" --environment demo --sink stdout --rate-limit 20
canary_rc=$?
set -e
echo "canary exit code: $canary_rc"

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

say "Done"
echo "HTML report: $out/report.html"
echo "JSON report: $out/report.json, interval log: $out/run.hlog"
echo "logs: $out/service.log, $out/gateway.log"
[[ $canary_rc == 0 && $ratelimit_rc == 0 && $loadgen_rc == 0 ]]
