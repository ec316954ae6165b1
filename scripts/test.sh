#!/usr/bin/env bash
# The whole test suite (the README's test command): installs what is missing
# (scripts/test-setup.sh), then formatting, lints, dependency licenses and
# bans (cargo-deny), every unit, conformance and
# whole-system test, the Kubernetes manifests (rendered, schema-validated
# and checked against the binary: scripts/check-k8s.py), then the web client: type check, SDK unit tests, and
# end-to-end tests in headless Chromium against the `parley` binary
# (screenshots go to web/e2e-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Licenses, banned crates, sources (deny.toml; advisories need the network).
cargo deny --locked check bans licenses sources
cargo nextest run --workspace --lib --bins --tests --locked --no-fail-fast
cargo build -p parley --locked
.tools/venv/bin/python scripts/check-k8s.py target/debug/parley .tools/venv/bin/kubernetes-validate
(cd web && npm run check && npm test && npm run test:e2e)
