#!/usr/bin/env bash
# The whole test suite (the README's test command runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
