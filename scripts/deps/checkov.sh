#!/usr/bin/env bash
# Installs checkov (Terraform static analysis, from PyPI) into .deps/checkov. Idempotent: a second
# run installs nothing. Prints the checkov executable's path on stdout; progress goes to stderr.
# checkov needs Python 3.9-3.12; pyenv's 3.12 or 3.11 is used.
# Run it offline as the checks crate does: `--skip-download` with BC_SKIP_MAPPING=TRUE and no
# BC_API_KEY, so it neither fetches policies nor guidelines.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=3.3.30
venv="$root/.deps/checkov"
stamp="$venv/.installed-$version"

find_python() {
  local candidates=()
  for v in 3.12 3.11; do
    [[ -n ${PYENV_ROOT:-} ]] && candidates+=("$PYENV_ROOT"/versions/$v*/bin/python$v)
    candidates+=("$HOME"/.pyenv/versions/$v*/bin/python$v /usr/bin/python$v /usr/local/bin/python$v)
  done
  for p in "${candidates[@]}"; do
    [[ -x $p ]] && { echo "$p"; return 0; }
  done
  for v in 3.12 3.11; do command -v "python$v" 2>/dev/null && return 0; done
  echo "checkov needs Python 3.11 or 3.12 and none was found (pyenv's expected)" >&2
  return 1
}

# Tests may call this in parallel: one installs, the others wait for it.
mkdir -p "$root/.deps"
exec 9>"$root/.deps/checkov.lock"
flock 9

if [[ ! -f $stamp ]]; then
  py=$(find_python)
  echo "installing checkov $version into $venv" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "checkov==$version" >&2
  touch "$stamp"
fi
echo "$venv/bin/checkov"
