#!/bin/bash
# Where the hub's time goes under the live fan-out load (bench figure 2; issue 23's target 2):
# `perf record` samples the hub's process (every thread, with call graphs) while
# `obs-hub-bench --only 2` runs, and the report sorts its samples by library and symbol.
#
#   bash scripts/profile-fanout.sh [OUT_DIR]   # default artifacts/profiles; needs perf (linux-perf)
#
# Writes OUT_DIR/fanout.perf (the samples), OUT_DIR/fanout-report.txt (the hub's symbols) and
# OUT_DIR/fanout-bench.md (the figure's own report for that run). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/obs-hub/target}
out=${1:-artifacts/profiles}
mkdir -p "$out"
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
cargo build --release --bin obs-hub --bin obs-hub-bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bench="$CARGO_TARGET_DIR/release/obs-hub-bench"
"$bench" --only 2 --output "$out/fanout-bench.md" &
bench_pid=$!
# The hub of figure 2 is the bench's first `obs-hub` child: record that process (every thread).
hub=""
for _ in $(seq 400); do
  hub=$(pgrep -n -x obs-hub || true)
  [ -n "$hub" ] && break
  sleep 0.05
done
[ -n "$hub" ] || { echo "no obs-hub process appeared" >&2; exit 1; }
perf record -g -F 999 -p "$hub" -o "$out/fanout.perf" 2>"$out/perf-record.log" &
perf_pid=$!
wait "$bench_pid"
kill -INT "$perf_pid" 2>/dev/null || true
wait "$perf_pid" || true
perf report -i "$out/fanout.perf" --no-children --sort dso,symbol --stdio -g none \
  --percent-limit 0.5 >"$out/fanout-report.txt" 2>/dev/null
head -60 "$out/fanout-report.txt"
