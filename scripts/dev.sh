#!/usr/bin/env bash
# `npm run dev`: installs what is missing, starts PostgreSQL, Redis, Temporal (persisted,
# Web UI on 8233), a mail catcher and stripe-mock under .data/dev, applies migrations,
# loads the seed catalog, runs a worker and the API on :3000, and on Ctrl-C stops all of it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export ORDERLY_DATA_DIR="${ORDERLY_DATA_DIR:-$ROOT/.data/dev}"
export PORT="${PORT:-3000}"
# the local gateway sends its signed events (3-D Secure outcomes, refunds, disputes) to the API, as Stripe would
export LOCAL_GATEWAY_WEBHOOK_URL="${LOCAL_GATEWAY_WEBHOOK_URL:-http://127.0.0.1:$PORT/webhooks/stripe}"
# Prometheus endpoints of the API and the worker (README "Monitoring").
export METRICS_PORT="${METRICS_PORT:-9464}" WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9465}"
# Payloads are ciphertext in Temporal history: the Web UI decodes them through the API's codec endpoint.
export TEMPORAL_UI_CODEC_ENDPOINT="${TEMPORAL_UI_CODEC_ENDPOINT:-http://localhost:$PORT/codec}"
mkdir -p "$ORDERLY_DATA_DIR"
TSX=(node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs")

bash scripts/bootstrap.sh

children=()
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  local pid
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$ORDERLY_DATA_DIR/api.pid" "$ORDERLY_DATA_DIR/worker.pid"
  bash "$ROOT/scripts/services.sh" stop
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

bash scripts/services.sh start
source "$ORDERLY_DATA_DIR/services.env"
export ORDERLY_MODE="${ORDERLY_MODE:-dev}"

"${TSX[@]}" db/migrate.ts
"${TSX[@]}" db/seed.ts

"${TSX[@]}" workers/main.ts &
children+=($!); echo $! >"$ORDERLY_DATA_DIR/worker.pid"
"${TSX[@]}" api/server.ts &
children+=($!); echo $! >"$ORDERLY_DATA_DIR/api.pid"

if ! wait_for 60 curl -sf "http://127.0.0.1:$PORT/health"; then
  die "the API did not become healthy in 60 s"
fi

cat <<EOF2

  Orderly is up.
    API            http://localhost:$PORT          (health: /health)
    OpenAPI        http://localhost:$PORT/openapi.json
    Temporal UI    $TEMPORAL_UI_URL   (decoded payloads: sign in at http://localhost:$PORT/codec/session first)
    Caught mail    $MAIL_UI_URL
    Admin token    ${ADMIN_API_TOKEN:-dev-admin-token}   (Authorization: Bearer …)
    Metrics        http://localhost:$METRICS_PORT/metrics (API), http://localhost:$WORKER_METRICS_PORT/metrics (worker)
  Ctrl-C stops everything.

EOF2

# Runs until Ctrl-C, or until the API or the worker exits (then everything stops).
set +e
wait -n "${children[@]}"
status=$?
log "a service process exited (status $status)"
exit 1
