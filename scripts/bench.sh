#!/usr/bin/env bash
# Every benchmark of obs-hub (issues 7 and 23), in one command:  bash scripts/bench.sh
#
# Builds obs-hub and obs-hub-bench in release, raises the open-files limit (thousands of
# WebSocket clients, 500 simulated OBS), installs wrk if it is missing (Debian: apt-get), then
# runs the bench from the repository root. It prints a table and writes BENCHMARKS.md (a full
# run takes about ten minutes on 2 cores; run it on a quiet machine: `uptime` load under 0.5).
# Each section is one module of src/bin/bench/ (see SECTIONS in src/bin/bench.rs); section 10
# runs scripts/measure-scopes.py (python3, about 30 s).
#
# Extra arguments go to the bench, e.g.
#   bash scripts/bench.sh --quick        # smoke test, ~3 min, report in the temp directory
#   bash scripts/bench.sh --only 1,2     # some sections only
# Settings: CARGO_TARGET_DIR (default /var/cache/obs-hub/target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/obs-hub/target}

if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: wrk (the HTTP load client) is missing; installing it with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
  else
    sudo apt-get install -y wrk || { sudo apt-get update && sudo apt-get install -y wrk; }
  fi
fi

cargo build --release --bin obs-hub --bin obs-hub-bench

# Each WebSocket client is a file descriptor in the bench and another in the hub (a child, which
# inherits the limit). Raise the soft limit as far as the hard one allows.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then
  want=$hard
fi
ulimit -n "$want" || echo "bench: could not raise the open-files limit (now $(ulimit -n))" >&2

OBS_HUB_BENCH_RUSTC=$(rustc --version)
export OBS_HUB_BENCH_RUSTC
exec "$CARGO_TARGET_DIR/release/obs-hub-bench" "$@"
