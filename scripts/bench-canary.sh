#!/usr/bin/env bash
# Benchmark of one scheduled canary round: the release `canary run --once` with the default probe
# suite, through the local gateway in front of the real service, publishing to LocalStack's
# CloudWatch (PutMetricData over HTTP through the real AWS SDK). For each of RUNS rounds it reports
#   wall      the process's whole life (start, config, AWS setup, 5 probes, 3 PutMetricData calls)
#   probes    the sum of the probes' own latencies (what the target costs)
#   overhead  wall - probes: the canary's own cost; target <= 1 s
#   rss       peak resident memory (GNU time's %M); target <= 32 MiB
# Exits 1 when a round misses a target.
# Usage: scripts/bench-canary.sh [RUNS]   (default 5; the canary consumer's quota is 20/minute and a
# round spends 2, so keep RUNS <= 9 per minute)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${1:-5}

[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
py=$(scripts/deps/localstack.sh)

echo "building release binaries (canary, local_round example)..." >&2
cargo build --release --locked -q -p canary --bin canary --example local_round

work=$(mktemp -d /tmp/bench-canary.XXXXXX)
stack_pid=
cleanup() {
  [[ -n $stack_pid ]] && kill -TERM "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null || true
  scripts/localstack.sh stop "$work/ls" || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/tmp"
TMPDIR="$work/tmp" scripts/localstack.sh start "$port" "$work/ls"

CANARY_API_KEY="bench-$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
export CANARY_API_KEY
target/release/examples/local_round --serve >"$work/url" 2>"$work/stack.log" &
stack_pid=$!
for _ in $(seq 1 100); do
  [[ -s $work/url ]] && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$work/stack.log" >&2; exit 1; }
  sleep 0.1
done
url=$(head -n1 "$work/url")
[[ $url == http://* ]] || { echo "the local stack did not start" >&2; cat "$work/stack.log" >&2; exit 1; }

echo "target $url (service behind the local gateway), CloudWatch at 127.0.0.1:$port" >&2
printf '%-4s %8s %8s %9s %8s %5s\n' run wall_s probes_s overhead_s rss_mib exit
failed=0
for i in $(seq 1 "$runs"); do
  set +e
  env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
      AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$port" LOG_FORMAT=json \
    /usr/bin/time -f '%e %M' -o "$work/time.$i" \
    target/release/canary run --once --sink cloudwatch --target "$url" \
      --environment bench --rate-limit 20 2>"$work/log.$i"
  code=$?
  set -e
  read -r wall rss_kib <"$work/time.$i"
  probes_ms=$(grep -o '"latency_ms":[0-9.]*' "$work/log.$i" | cut -d: -f2 | awk '{s += $1} END {printf "%.1f", s}')
  row=$(awk -v w="$wall" -v p="$probes_ms" -v r="$rss_kib" \
    'BEGIN {printf "%8.2f %8.3f %9.2f %8.1f", w, p / 1000, w - p / 1000, r / 1024}')
  printf '%-4s %s %5s\n' "$i" "$row" "$code"
  over=$(awk -v w="$wall" -v p="$probes_ms" -v r="$rss_kib" 'BEGIN {print (w - p / 1000 > 1.0 || r > 32 * 1024) ? 1 : 0}')
  if [[ $code -ne 0 || $over -ne 0 ]]; then
    failed=1
    [[ $code -ne 0 ]] && { echo "round $i exited $code:" >&2; cat "$work/log.$i" >&2; }
  fi
done
if [[ $failed -ne 0 ]]; then
  echo "FAIL: a round missed a target (overhead <= 1 s, RSS <= 32 MiB, exit 0)" >&2
  exit 1
fi
echo "PASS: every round within overhead <= 1 s and RSS <= 32 MiB" >&2
