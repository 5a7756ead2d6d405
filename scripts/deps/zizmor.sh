#!/usr/bin/env bash
# Installs zizmor (the GitHub Actions auditor, from PyPI: a prebuilt binary in a wheel) into
# .deps/zizmor. Idempotent: a second run installs nothing. Prints the zizmor executable's path on
# stdout; progress goes to stderr.
# Run it offline as the checks crate does: `zizmor --offline .github/workflows` (no GitHub API,
# so no online-only audits such as known-vulnerable actions or impostor commits).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=1.33.1
venv="$root/.deps/zizmor"
stamp="$venv/.installed-$version"

# Tests may call this in parallel: one installs, the others wait for it.
mkdir -p "$root/.deps"
exec 9>"$root/.deps/zizmor.lock"
flock 9

if [[ ! -f $stamp ]]; then
  echo "installing zizmor $version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "zizmor==$version" >&2
  touch "$stamp"
fi
echo "$venv/bin/zizmor"
