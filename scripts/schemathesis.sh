#!/usr/bin/env bash
# Property-based API check: schemathesis generates requests from /api/openapi.json and runs them
# against `obs-hub demo` (the hub on the simulated OBS). Fails on any 5xx and on any response
# that does not match the document. The virtualenv is cached outside the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${OBS_HUB_CACHE:-/var/cache/obs-hub}
VENV="$CACHE/schemathesis-venv"
SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
PORT=${SCHEMATHESIS_PORT:-18181}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin obs-hub
HUB="$CARGO_TARGET_DIR/debug/obs-hub"
LOG=$(mktemp)
"$HUB" demo --bind "127.0.0.1:$PORT" >"$LOG" 2>&1 &
HUB_PID=$!
trap 'kill "$HUB_PID" 2>/dev/null || true; wait "$HUB_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$LOG"; echo "the demo hub did not start"; exit 1; }

# obs-manager/stop is left out: once the fuzzer has stopped the manager, every command answers
# 503 "not connected" by design, which schemathesis counts as a server error. Stop and start are
# covered by tests/hub/connection.rs and tests/hub/api.rs. scene-collections/current is left out
# for the same reason: while OBS switches collections (a second or two in the simulated OBS, longer
# in OBS itself) every command answers 503 `collection_changing` with Retry-After by design; the
# switch is covered by tests/hub/sources.rs and the real-OBS run.
set +e
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --exclude-path-regex 'obs-manager/stop$|scene-collections/current$' \
  --workers 1 \
  --request-timeout 15 \
  --no-color
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "---- hub log (last 40 lines) ----"
  tail -n 40 "$LOG"
fi
exit "$status"
