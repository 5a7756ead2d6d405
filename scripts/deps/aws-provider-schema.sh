#!/usr/bin/env bash
# Installs the AWS provider's schema as the npm package @cdktf/provider-aws publishes it (code
# generated from the provider; 21.22.1 is hashicorp/aws 6.25.0) into .deps/aws-provider, for the
# test that checks every argument and block of our Terraform against it (terraform validate
# cannot run here: providers cannot be downloaded). Only the generated JavaScript is unpacked.
# The tarball is checked against the registry's pinned sha512. Idempotent. Prints the package's
# lib/ directory on stdout; progress goes to stderr. Needs node and npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=21.22.1
integrity=sha512-BuSHeaQFUL9l33pBzIMRT7cTQ69AM2mLtijjteCPhVQRmvuhuj9Lvfymf7knAMhYqAT6+Lrls9jiGVW/Us3zrQ==
dir="$root/.deps/aws-provider"
stamp="$dir/.installed-$version"

mkdir -p "$root/.deps"
exec 9>"$root/.deps/aws-provider.lock"
flock 9
if [[ ! -f $stamp ]]; then
  echo "installing @cdktf/provider-aws $version (the AWS provider's schema) into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  tarball=$(cd "$dir" && npm pack --silent "@cdktf/provider-aws@$version" | tail -n 1)
  actual="sha512-$(openssl dgst -sha512 -binary "$dir/$tarball" | base64 -w0)"
  if [[ $actual != "$integrity" ]]; then
    echo "@cdktf/provider-aws $version: checksum mismatch ($actual)" >&2
    exit 1
  fi
  tar -xzf "$dir/$tarball" -C "$dir" --wildcards 'package/package.json' 'package/lib/*.js'
  rm -f "$dir/$tarball"
  touch "$stamp"
fi
echo "$dir/package/lib"
