#!/usr/bin/env bash
# schemathesis against a real `slipway server` on loopback (docs/server.md, "Fuzzing"): every
# operation of the published OpenAPI document, as an admin and as an anonymous caller, for
# MAX_TIME seconds each, failing on any 5xx and on any answer that does not match its schema.
#
#   bash scripts/fuzz.sh                      # ten minutes as admin, then ten as anonymous
#   MAX_TIME=60 CALLERS=anonymous bash scripts/fuzz.sh
#
# Env: MAX_TIME (600), CALLERS ("admin anonymous"), PORT (a free one), SEED (1), WORKERS (2),
# OUT (the reports: a JUnit file per caller; default fuzz-report/). The server's store is a fresh
# SQLite home in a temporary folder, removed at the end; its log is kept in OUT/server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_TIME=${MAX_TIME:-600}
CALLERS=${CALLERS:-admin anonymous}
# A free port on loopback unless PORT is given.
PORT=${PORT:-$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
SEED=${SEED:-1}
WORKERS=${WORKERS:-2}
OUT=${OUT:-fuzz-report}
VENV=${VENV:-.venv}
URL="http://127.0.0.1:$PORT"
TOKEN="slw_fuzz-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

mkdir -p "$OUT"
SERVER_HOME=$(mktemp -d)
SLIPWAY_HOME="$SERVER_HOME" SLIPWAY_ALLOW_ANONYMOUS=true SLIPWAY_BOOTSTRAP_TOKEN="$TOKEN" \
  "$VENV/bin/slipway" server --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'rc=$?; kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$SERVER_HOME"; exit $rc' EXIT
for _ in $(seq 300); do
  curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
  sleep 1
done
curl -fsS "$URL/readyz" >/dev/null || { echo "the server did not start (see $OUT/server.log)"; exit 1; }

status=0
for caller in $CALLERS; do
  auth=()
  [ "$caller" = admin ] && auth=(--header "Authorization: Bearer $TOKEN")
  echo "== schemathesis as $caller for ${MAX_TIME}s against $URL"
  "$VENV/bin/schemathesis" run "$URL/api/v1/openapi.json" "${auth[@]}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-time "$MAX_TIME" --seed "$SEED" --workers "$WORKERS" --request-timeout 60 \
    --suppress-health-check all --generation-database none --no-color \
    --report junit --report-junit-path "$OUT/$caller.xml" || status=1
done
# The admin's token must still work: a run that locked its caller out tested nothing after that.
curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/identity/whoami" >/dev/null \
  || { echo "the admin token no longer works after the run"; status=1; }
if grep -q "unexpected error" "$OUT/server.log"; then
  echo "the server logged unexpected errors (see $OUT/server.log)"
  status=1
fi
exit $status
