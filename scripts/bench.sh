#!/usr/bin/env bash
# Every benchmark of obs-hub (issues 7 and 23), in one command:  bash scripts/bench.sh
#
# Builds obs-hub and obs-hub-bench in release, raises the open-files limit (thousands of
# WebSocket clients, 500 simulated OBS), installs wrk if it is missing (Debian: apt-get), then
# runs the bench from the repository root. It prints a table and writes BENCHMARKS.md (a full
# run takes about 7 minutes on 2 cores, plus the build; run it on a quiet machine: `uptime` load
# under 0.5; each figure's run time is in the report).
# Each section is one module of src/bin/bench/ (see SECTIONS in src/bin/bench.rs); section 10
# runs scripts/measure-scopes.py (python3, about 10 s); sections 13 and 14 need PostgreSQL (below).
#
# Extra arguments go to the bench, e.g.
#   bash scripts/bench.sh --quick        # smoke test, ~75 s, report in the temp directory
#   bash scripts/bench.sh --only 1,2     # some sections only
#   bash scripts/bench.sh --no-postgres  # no PostgreSQL server, build without the feature
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

# ---- PostgreSQL (issue 21), figures 13 and 14 ------------------------------------------------------
# Where Debian's postgresql and libpq-dev are installed, the bench is built with the `postgres`
# feature and a throwaway PostgreSQL server is started on loopback (default settings, a
# temporary data directory; as the `postgres` user when root, since initdb refuses root) for
# figure 13: the hub on PostgreSQL against the hub on SQLite, and history writes through the
# write-behind on each (examples/history_throughput.rs). The server and its directory go at
# exit. Without them figure 13 says "skipped: no PostgreSQL" (`--no-postgres` skips it too).
# Figure 14 (issue 22, the cluster of hubs: three node processes) runs on the same server, in
# databases of its own, and is skipped with it.
postgres=1
bench_args=()
for arg in "$@"; do
  if [ "$arg" = --no-postgres ]; then postgres=0; else bench_args+=("$arg"); fi
done
set -- "${bench_args[@]+"${bench_args[@]}"}"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ $postgres = 1 ] && { [ -z "$pg_bin" ] || ! dpkg-query -W libpq-dev >/dev/null 2>&1; }; then
  echo "bench: no PostgreSQL (apt-get install postgresql libpq-dev): figure 13 is skipped" >&2
  postgres=0
fi
features=()
if [ $postgres = 1 ]; then
  features=(--features postgres --example history_throughput)
  pg_dir=$(mktemp -d /tmp/obs-hub-bench-pg.XXXXXX)
  pg_as=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pg_dir"; pg_as=(runuser -u postgres --); fi
  pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  stop_postgres() {
    "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  trap stop_postgres EXIT
  "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=300" start >/dev/null
  for db in bench_hub bench_history bench_cluster_takeover bench_cluster_scale bench_lone_scale \
    bench_lone_reads; do
    "${pg_as[@]}" "$pg_bin/psql" -X -q -h "$pg_dir" -p "$pg_port" -U postgres -c "CREATE DATABASE $db"
  done
  export OBS_HUB_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/bench_hub"
  export OBS_HUB_BENCH_HISTORY_URL="postgres://postgres@127.0.0.1:$pg_port/bench_history"
  # Figure 14: the server for the cluster's nodes and the lone hubs (src/bin/bench/fig_cluster.rs
  # names the databases created above).
  export OBS_HUB_BENCH_CLUSTER_URL="postgres://postgres@127.0.0.1:$pg_port/"
fi
# ---- end of the PostgreSQL section ------------------------------------------------------------

cargo build --release "${features[@]+"${features[@]}"}" --bin obs-hub --bin obs-hub-bench

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
if [ $postgres = 0 ]; then
  exec "$CARGO_TARGET_DIR/release/obs-hub-bench" "$@"
fi
# No exec with PostgreSQL, so that the server is stopped at exit.
"$CARGO_TARGET_DIR/release/obs-hub-bench" "$@"
