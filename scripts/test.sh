#!/usr/bin/env bash
# The whole test suite (the README's test command runs this): formatting,
# lints, then every unit, conformance and whole-system test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --lib --bins --tests --locked --no-fail-fast
