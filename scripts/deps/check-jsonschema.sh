#!/usr/bin/env bash
# Installs check-jsonschema (from PyPI) into .deps/check-jsonschema, for validating the GitHub
# workflows against the schema it ships (`--builtin-schema vendor.github-workflows`: vendored in
# the package, no download). Idempotent. Prints the check-jsonschema executable's path on stdout;
# progress goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=0.39.0
venv="$root/.deps/check-jsonschema"
stamp="$venv/.installed-$version"

# Tests may call this in parallel: one installs, the others wait for it.
mkdir -p "$root/.deps"
exec 9>"$root/.deps/check-jsonschema.lock"
flock 9

if [[ ! -f $stamp ]]; then
  echo "installing check-jsonschema $version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "check-jsonschema==$version" >&2
  touch "$stamp"
fi
echo "$venv/bin/check-jsonschema"
