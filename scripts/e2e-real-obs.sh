#!/usr/bin/env bash
# The whole end-to-end run against a real OBS Studio: build the tests, start OBS + nginx-rtmp
# (scripts/real-obs.sh start), run tests/real_obs.rs (OBS itself) and tests/real_obs_hub.rs (the
# hub against it) with OBS_E2E=1, and always stop everything
# again (trap), whatever happened. Exits with the tests' status. Needs root (chroot, mount).
#
# Extra arguments go to the test binary, e.g.  bash scripts/e2e-real-obs.sh streams_to
# Settings: OBS_E2E_PORT, OBS_E2E_PASSWORD, OBS_E2E_STATE (see scripts/real-obs.sh),
# CARGO_TARGET_DIR (default /var/cache/obs-hub/target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CTL="$PWD/scripts/real-obs.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/obs-hub/target}
export OBS_E2E_PORT=${OBS_E2E_PORT:-4455}
export OBS_E2E_PASSWORD=${OBS_E2E_PASSWORD:-obs-hub-e2e-secret}
STATE=${OBS_E2E_STATE:-/tmp/obs-hub-real-obs}

T0=$(date +%s)
section() { printf '\n======== %s  [+%ss] ========\n' "$*" "$(($(date +%s) - T0))"; }

started=""
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$started" ]; then
    if [ "$rc" -ne 0 ] && [ -f "$STATE/obs.log" ]; then
      section "last lines of the OBS log ($STATE/obs.log)"
      tail -n 40 "$STATE/obs.log" || true
    fi
    section "stop real OBS and nginx-rtmp"
    bash "$CTL" stop || rc=$((rc == 0 ? 1 : rc))
  fi
  section "e2e-real-obs: $([ "$rc" -eq 0 ] && echo PASSED || echo "FAILED (exit $rc)")"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Compile first, so OBS does not sit idle eating CPU while a 2-core machine builds.
section "build tests/real_obs.rs and tests/real_obs_hub.rs"
cargo test --test real_obs --test real_obs_hub --no-run

section "start real OBS and nginx-rtmp"
started=1
bash "$CTL" start
eval "$(bash "$CTL" env)"
export OBS_E2E_HOST OBS_E2E_PORT OBS_E2E_PASSWORD OBS_E2E_RTMP_PORT OBS_E2E_CTL OBS_E2E_ROOT

section "cargo test --test real_obs --test real_obs_hub (OBS_E2E=1, ws://$OBS_E2E_HOST:$OBS_E2E_PORT)"
set +e
OBS_E2E=1 RUST_LOG=${RUST_LOG:-obs_hub=info} cargo test --test real_obs --test real_obs_hub -- --test-threads=1 --nocapture "$@"
status=$?
set -e
exit "$status"
