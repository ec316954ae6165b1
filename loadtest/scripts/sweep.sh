#!/usr/bin/env bash
# Runs the load generator against a fresh `parley up` for each (rate, run):
# every run gets a new data directory and a new server, waits for the box to
# be idle first, and keeps the report (JSON, with per-second latency, machine
# busy share, server CPU/RSS and the timeline store's gauges) and its chart.
#
#   loadtest/scripts/sweep.sh OUT "2250 3000 4500" 5 30 --clients 1000 --group-size 10
#
# OUT/<rate>/<run>/{report.json,chart.svg,loader.log,server.log}; then
# `python3 loadtest/scripts/sweep-report.py OUT` prints the table and draws
# one chart per rate with every run. Release binaries are expected in
# target/release (cargo build --release -p parley -p parley-loadtest).
set -euo pipefail
out=$1 rates=$2 runs=$3 duration=$4
shift 4
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PARLEY_BIN_DIR:-$here/target/release}
# Every PARLEY_* variable is server configuration: this one is ours only.
unset PARLEY_BIN_DIR
ulimit -n 20000 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until the machine is nearly idle (another run's teardown, page cache
# writeback), at most 30 s.
wait_idle() {
  for _ in $(seq 30); do
    busy=$(python3 - <<'EOF'
import time
def t():
    f = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)
b0, a0 = t(); time.sleep(1); b1, a1 = t()
print(int(100 * (b1 - b0) / max(1, a1 - a0)))
EOF
)
    [ "$busy" -lt 10 ] && return
  done
}

for rate in $rates; do
  for run in $(seq "$runs"); do
    dir=$out/$rate/$run
    mkdir -p "$dir"
    data=$(mktemp -d)
    port=$(free_port)
    admin=$(free_port)
    wait_idle
    PARLEY_DATA_DIR=$data PARLEY_LISTEN=127.0.0.1:$port PARLEY_CLUSTER__ADMIN_LISTEN=127.0.0.1:$admin \
      PARLEY_LOG=warn PARLEY_GATEWAY__INVITATIONS=never PARLEY_GATEWAY__REGISTRATIONS_PER_HOUR_PER_ADDRESS=0 PARLEY_GATEWAY__RATE_PER_SEC=100000 PARLEY_GATEWAY__RATE_BURST=100000 \
      PARLEY_AUTH__HASH_CONCURRENCY=2 PARLEY_GATEWAY__SIGN_INS_PER_ADDRESS=8 \
      "$bin/parley" up >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
      curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
      sleep 0.1
    done
    status=0
    "$bin/parley-loadtest" --url "http://127.0.0.1:$port" --scenario group --rate "$rate" \
      --duration "$duration" --warmup 3 --login-concurrency 8 --server-pid "$server" \
      --server-metrics "http://127.0.0.1:$admin/metrics" \
      --report "$dir/report.json" --chart "$dir/chart.svg" "$@" >"$dir/loader.log" 2>&1 || status=$?
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
    echo "rate $rate run $run: loader exit $status; $(grep -E '^delivery latency' "$dir/loader.log" || true)"
  done
done
