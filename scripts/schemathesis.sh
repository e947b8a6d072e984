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
WORK=$(mktemp -d)
# The demo asks for this bootstrap (admin) token; the read and control tokens are made with it.
# No command rate limit: the fuzzer's commands are to reach the handlers, not the 429 (the limit
# has its own test, tests/hub/scopes.rs).
ADMIN_TOKEN="schemathesis-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$HUB" demo --bind "127.0.0.1:$PORT" --api-token "$ADMIN_TOKEN" --commands-per-second 0 >"$LOG" 2>&1 &
HUB_PID=$!
trap 'kill "$HUB_PID" 2>/dev/null || true; wait "$HUB_PID" 2>/dev/null || true; rm -rf "$LOG" "$WORK"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$LOG"; echo "the demo hub did not start"; exit 1; }

auth=(-H "Authorization: Bearer $ADMIN_TOKEN")
curl -fsS "${auth[@]}" "http://127.0.0.1:$PORT/api/openapi.json" >"$WORK/openapi.json"
make_token() { # name scope -> the token's secret
  curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$1\", \"scopes\": [\"$2\"]}" "http://127.0.0.1:$PORT/api/tokens/" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
READ_TOKEN=$(make_token fuzz-read read)
CONTROL_TOKEN=$(make_token fuzz-control control)

# One run per scope (issue 19), read and control first (the admin run may revoke their tokens).
# A scope's run must find no 5xx, and what the scope may not call answers the 403 the document
# gives every operation (x-obs-hub-scope says which scope it needs).
#
# Expected 503s, by design, in the admin run only (read and control tokens get 403 there):
# - POST obs-manager/stop: once the fuzzer has stopped the manager, every command answers 503
#   `obs_not_connected`, which schemathesis counts as a server error. Stop and start are covered
#   by tests/hub/connection.rs and tests/hub/api.rs.
# - PUT scene-collections/current: while OBS switches collections (a second or two in the
#   simulated OBS, longer in OBS itself) every command answers 503 `collection_changing` with
#   Retry-After. The switch is covered by tests/hub/sources.rs and the real-OBS run.
# Examples per operation: fewer for the scopes refused most operations, so that the three runs
# together take about twice the single run of before (64 s).
ADMIN_EXCLUDED='obs-manager/stop$|scene-collections/current$'
status=0
run_scope() { # scope token max-examples [exclude-regex]
  echo "---- schemathesis with a $1 token ----"
  local exclude=()
  [ -n "${4:-}" ] && exclude=(--exclude-path-regex "$4")
  "$VENV/bin/schemathesis" run "$WORK/openapi.json" \
    --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $2" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "$3" \
    "${exclude[@]}" \
    --workers 1 \
    --request-timeout 15 \
    --no-color || status=$?
}
set +e
MAX=${SCHEMATHESIS_MAX_EXAMPLES:-30}
run_scope read "$READ_TOKEN" "$(( MAX / 6 > 0 ? MAX / 6 : 1 ))"
run_scope control "$CONTROL_TOKEN" "$(( MAX / 3 > 0 ? MAX / 3 : 1 ))"
run_scope admin "$ADMIN_TOKEN" "$(( MAX / 2 > 0 ? MAX / 2 : 1 ))" "$ADMIN_EXCLUDED"
set -e
if [ "$status" -ne 0 ]; then
  echo "---- hub log (last 40 lines) ----"
  tail -n 40 "$LOG"
fi
exit "$status"
