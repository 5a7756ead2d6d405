#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the test-only components it needs (idempotently),
# then formatting, lints, the API docs, and every test of the workspace against real components.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "test-only components (Debian packages, LocalStack, checkov, Python hdrhistogram, the AWS provider's schema)"
scripts/deps/apt.sh
LOCALSTACK_PYTHON=$(scripts/deps/localstack.sh)
export LOCALSTACK_PYTHON
CHECKOV=$(scripts/deps/checkov.sh)
HDRH_PYTHON=$(scripts/deps/hdrh.sh)
OTLP_PYTHON=$(scripts/deps/otlp.sh)
export OTLP_PYTHON
AWS_PROVIDER_SCHEMA=$(scripts/deps/aws-provider-schema.sh)
export CHECKOV HDRH_PYTHON AWS_PROVIDER_SCHEMA
# Supply chain: the dependency tree against deny.toml, the workflows audited offline.
CARGO_DENY=$(scripts/deps/cargo-deny.sh)
ZIZMOR=$(scripts/deps/zizmor.sh)
CHECK_JSONSCHEMA=$(scripts/deps/check-jsonschema.sh)
export CARGO_DENY ZIZMOR CHECK_JSONSCHEMA

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc -D warnings (broken or private intra-doc links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "tests"
cargo nextest run --workspace --locked --no-fail-fast
