#!/usr/bin/env bash
# Installs the tools the test suite needs, if missing (idempotent).
set -euo pipefail
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
