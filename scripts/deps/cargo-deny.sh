#!/usr/bin/env bash
# Installs cargo-deny (dependency licences, bans and sources; deny.toml) from crates.io, built
# from source with its own lock file. Idempotent: skipped when the pinned version is already on
# PATH or in cargo's bin directory (CI may put it there prebuilt, same version). Prints the
# cargo-deny executable's path on stdout; progress goes to stderr.
# Built into cargo's own bin directory, not .deps/: compiling it takes minutes, and a fresh clone
# of the repository on the same machine reuses it.
set -euo pipefail
version=0.20.2
bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"

installed() {
  local candidate
  for candidate in "$(command -v cargo-deny 2>/dev/null || true)" "$bin_dir/cargo-deny"; do
    [[ -n $candidate && -x $candidate ]] || continue
    if [[ $("$candidate" --version 2>/dev/null) == "cargo-deny $version" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Tests or scripts may call this in parallel: one installs, the others wait for it.
mkdir -p "$bin_dir"
exec 9>"$bin_dir/.cargo-deny.lock"
flock 9

if ! installed; then
  echo "installing cargo-deny $version (cargo install --locked, a few minutes)" >&2
  # Its own temporary target dir: the workspace's shared target/ stays the workspace's.
  env -u CARGO_TARGET_DIR cargo install --locked --quiet --root "${CARGO_HOME:-$HOME/.cargo}" \
    "cargo-deny@$version" >&2
  installed || { echo "cargo-deny $version was installed but $bin_dir/cargo-deny is not it" >&2; exit 1; }
fi
