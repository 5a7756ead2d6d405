#!/usr/bin/env bash
# Installs LocalStack's CloudWatch emulator (its Python runtime, no Docker) into .deps/localstack.
# Idempotent. Prints the venv's python path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.deps/localstack"
stamp="$venv/.installed-2026.3.0-2"

find_python313() {
  local candidates=()
  [[ -n ${PYENV_ROOT:-} ]] && candidates+=("$PYENV_ROOT"/versions/3.13*/bin/python3.13)
  candidates+=("$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13)
  for p in "${candidates[@]}"; do
    [[ -x $p ]] && { echo "$p"; return 0; }
  done
  command -v python3.13 2>/dev/null && return 0
  echo "LocalStack needs Python >= 3.12 and none was found (pyenv's 3.13 expected)" >&2
  return 1
}

if [[ ! -f $stamp ]]; then
  py=$(find_python313)
  echo "installing localstack-core into $venv" >&2
  rm -rf "$venv"
  # The pins keep a coherent TLS stack: pyOpenSSL 26 dropped X509.add_extensions, which
  # LocalStack's self-signed certificate code still calls, and service_identity 26 needs a
  # cryptography that pyOpenSSL 25 does not accept.
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    'localstack-core[runtime]==2026.3.0' 'cbor2<5.7' \
    'service_identity<26' 'pyopenssl>=25,<26' 'cryptography>=45,<47' >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
