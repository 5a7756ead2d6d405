#!/usr/bin/env bash
# Installs OpenTelemetry's protobuf messages for Python (PyPI `opentelemetry-proto`, with Google's
# `protobuf` runtime) into .deps/otlp, for the OTLP/HTTP receiver the trace tests export to
# (testkit/otlp_receiver.py): a second, independent decoder of what the exporter sends.
# Idempotent. Prints the venv's python path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.deps/otlp"
proto=1.45.2
protobuf=7.36.2
stamp="$venv/.installed-$proto-$protobuf"

if [[ ! -f $stamp ]]; then
  echo "installing opentelemetry-proto $proto (protobuf $protobuf) into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "opentelemetry-proto==$proto" "protobuf==$protobuf" >&2
  "$venv/bin/python" -c 'from opentelemetry.proto.collector.trace.v1 import trace_service_pb2' >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
