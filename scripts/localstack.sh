#!/usr/bin/env bash
# Starts LocalStack's CloudWatch on 127.0.0.1:PORT in the background and waits until it is ready.
# Usage: scripts/localstack.sh start PORT DIR   (pid in DIR/localstack.pid, log in DIR/localstack.log)
#        scripts/localstack.sh stop DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: localstack.sh start PORT DIR | stop DIR}
case $cmd in
  start)
    port=${2:?port}; dir=${3:?dir}
    mkdir -p "$dir/fs" "$dir/tmp"
    py=$("$root/scripts/deps/localstack.sh")
    # LocalStack keeps its database under $TMPDIR/localstack and deletes it on stop, so each
    # instance gets its own TMPDIR or parallel instances wreck each other.
    TMPDIR="$dir/tmp" GATEWAY_LISTEN="127.0.0.1:$port" DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 SERVICES=cloudwatch \
      DNS_ADDRESS=0 FILESYSTEM_ROOT="$dir/fs" LOCALSTACK_TELEMETRY_DISABLED=1 DISABLE_CORS_CHECKS=1 \
      setsid "$py" -m localstack.runtime.main >"$dir/localstack.log" 2>&1 &
    echo $! >"$dir/localstack.pid"
    for _ in $(seq 1 300); do
      grep -q 'Ready\.' "$dir/localstack.log" 2>/dev/null && exit 0
      kill -0 "$(cat "$dir/localstack.pid")" 2>/dev/null || { cat "$dir/localstack.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "LocalStack did not become ready in 30 s; log: $dir/localstack.log" >&2
    exit 1
    ;;
  stop)
    dir=${2:?dir}
    [[ -f $dir/localstack.pid ]] && kill -- -"$(cat "$dir/localstack.pid")" 2>/dev/null || true
    ;;
  *) echo "usage: localstack.sh start PORT DIR | stop DIR" >&2; exit 64 ;;
esac
