#!/usr/bin/env bash
# Installs Python's HdrHistogram implementation (PyPI `hdrhistogram`, module `hdrh`) into
# .deps/hdrh, for the loadgen test that reads `--hlog` files with a second, independent reader.
# Idempotent. Prints the venv's python path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.deps/hdrh"
stamp="$venv/.installed-0.10.3"

if [[ ! -f $stamp ]]; then
  echo "installing hdrhistogram 0.10.3 into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'hdrhistogram==0.10.3' >&2
  "$venv/bin/python" -c 'import hdrh.log' >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
