#!/usr/bin/env bash
# `npm test`: installs what is missing, starts throw-away services on free ports, applies
# migrations, type-checks, lints, runs the whole jest suite, then (phase 2) the server-heavy
# tests again on the Temporal server built from Go, and always stops the services.
# Extra arguments go to jest (e.g. `npm test -- test/carts.test.ts`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
CLUSTER_LANE_TESTS=(test/api/worker-crash.test.ts test/api/checkout.test.ts test/api/money-invariants.test.ts
  test/api/refunds.test.ts test/api/worker-versioning.test.ts test/workflows/replay.test.ts)

bash scripts/bootstrap.sh

DATA="$(mktemp -d "${TMPDIR:-/tmp}/orderly-test.XXXXXX")"
chmod 755 "$DATA"
read -r PG_PORT REDIS_PORT TEMPORAL_PORT SMTP_PORT MAIL_UI_PORT STRIPE_MOCK_PORT ES_PORT < <(node -e '
  const net = require("net");
  (async () => {
    const ports = [];
    const servers = [];
    while (ports.length < 7) {
      const s = net.createServer();
      await new Promise((r) => s.listen(0, "127.0.0.1", r));
      const p = s.address().port;
      servers.push(s);
      // stripe-mock also takes p+1 for https, the Temporal server built from Go p+1..p+5 (phase 2): keep neighbours apart.
      if (p < 60000 && !ports.some((q) => Math.abs(q - p) < 6)) ports.push(p);
    }
    servers.forEach((s) => s.close());
    console.log(ports.join(" "));
  })();')
export ORDERLY_DATA_DIR="$DATA" PG_PORT REDIS_PORT TEMPORAL_PORT SMTP_PORT MAIL_UI_PORT STRIPE_MOCK_PORT ES_PORT
export TEMPORAL_UI_PORT=$((TEMPORAL_PORT + 1000 > 65000 ? TEMPORAL_PORT - 1000 : TEMPORAL_PORT + 1000))
export TEMPORAL_PERSIST=0 TEMPORAL_HEADLESS=1 PG_FAST=1

cleanup() {
  local rc=$?
  REDIS_CLUSTER_DIR="$DATA/redis-cluster" bash "$ROOT/scripts/redis-cluster.sh" stop || true
  bash "$ROOT/scripts/services.sh" stop || true
  rm -rf "$DATA"
  exit $rc
}
trap cleanup EXIT INT TERM

log "starting throw-away services in $DATA"
bash scripts/services.sh start
source "$DATA/services.env"
# A local Redis Cluster for the cart suites' second run (the rest of the suite stays on REDIS_URL).
REDIS_CLUSTER_DIR="$DATA/redis-cluster" REDIS_CLUSTER_PORT=auto bash scripts/redis-cluster.sh start
export TEST_REDIS_CLUSTER_NODES="$(REDIS_CLUSTER_DIR="$DATA/redis-cluster" bash scripts/redis-cluster.sh nodes)"
export ORDERLY_MODE=test LOG_LEVEL="${LOG_LEVEL:-silent}"

npx tsx db/migrate.ts
log "type-checking and linting"
npx tsc --noEmit -p tsconfig.json
npx eslint --max-warnings=0 .
if [ "${ORDERLY_CLUSTER_LANE:-1}" != only ]; then
  log "running tests"
  npx jest "$@"
fi

# Phase 2 (the whole suite only; ORDERLY_CLUSTER_LANE=0 skips it, =only runs nothing else): the tests that exercise the
# Temporal server hardest — worker crashes, the checkout and refund APIs, the money invariants,
# the recorded-history replay — again on the Temporal server built from Go, on the same
# PostgreSQL (TEMPORAL_SERVER=cluster, see README "Temporal server").
if [ $# -eq 0 ] && [ "${ORDERLY_CLUSTER_LANE:-1}" != 0 ]; then
  log "phase 2: the Temporal server built from Go (TEMPORAL_SERVER=cluster)"
  SERVICES=temporal bash scripts/services.sh stop
  TEMPORAL_SERVER=cluster SERVICES=temporal bash scripts/services.sh start
  npx jest "${CLUSTER_LANE_TESTS[@]}"
fi
