#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks use, only those missing.
# Usage: scripts/deps/apt.sh [PACKAGE...]   (no arguments: all of them)
# Idempotent: a second run installs nothing. Needs root (CI and dev machines run as root).
set -euo pipefail

# command-to-check:package pairs
wanted=(
  "nginx:nginx"
  "/usr/share/nginx/modules-available/mod-http-lua.conf:libnginx-mod-http-lua"
  "promtool:prometheus"
  "chromium:chromium"
  "wrk:wrk"
)

# Optional arguments restrict the set to those packages (the demo needs only nginx and its Lua module).
if (($#)); then
  subset=()
  for pair in "${wanted[@]}"; do
    for want in "$@"; do [[ ${pair##*:} == "$want" ]] && subset+=("$pair"); done
  done
  wanted=("${subset[@]}")
fi

missing=()
for pair in "${wanted[@]}"; do
  probe=${pair%%:*}
  pkg=${pair##*:}
  if [[ $probe == /* ]]; then
    [[ -e $probe ]] || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps nginx from being started as a system service we do not use.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts nginx and prometheus as services on install; the tests run their own.
  for svc in nginx prometheus prometheus-node-exporter; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    pkill -x "$svc" >/dev/null 2>&1 || true
  done
fi
