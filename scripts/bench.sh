#!/usr/bin/env bash
# `npm run bench`: the same bootstrap and throw-away services as the tests, then bench/checkout.ts,
# bench/search.ts and bench/servers.ts (dev server vs the Temporal server built from Go).
set -euo pipefail
# `npm run bench -- --scale`: the cost curves instead (scripts/bench-scale.sh, npm run bench:scale)
if [ "${1:-}" = --scale ]; then exec bash "$(dirname "$0")/bench-scale.sh"; fi
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
DATA="$(mktemp -d "${TMPDIR:-/tmp}/orderly-bench.XXXXXX")"
chmod 755 "$DATA"
export ORDERLY_DATA_DIR="$DATA" PG_PORT="${PG_PORT:-55532}" REDIS_PORT="${REDIS_PORT:-56479}" TEMPORAL_PORT="${TEMPORAL_PORT:-7333}"
export TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8333}" SMTP_PORT="${SMTP_PORT:-1125}" MAIL_UI_PORT="${MAIL_UI_PORT:-1180}" STRIPE_MOCK_PORT="${STRIPE_MOCK_PORT:-12211}" ES_PORT="${ES_PORT:-59201}"
export TEMPORAL_PERSIST=0 TEMPORAL_HEADLESS=1 SERVICES="postgres redis temporal elasticsearch smtp"
cleanup() { REDIS_CLUSTER_DIR="$DATA/redis-cluster" bash "$ROOT/scripts/redis-cluster.sh" stop || true; bash "$ROOT/scripts/services.sh" stop || true; rm -rf "$DATA"; }
trap cleanup EXIT INT TERM
bash scripts/services.sh start
source "$DATA/services.env"
node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" db/migrate.ts
# BENCH_ONLY=checkout|checkout-cpu|flash|search|recommendations|servers|carts|ratelimit|storefront runs one part
# BENCH_ONLY=carts: only the cart operations, on the single Redis node and on a local Redis Cluster
if [ "${BENCH_ONLY:-}" = carts ]; then
  REDIS_CLUSTER_DIR="$DATA/redis-cluster" REDIS_CLUSTER_PORT=auto bash scripts/redis-cluster.sh start
  BENCH_REDIS_CLUSTER_NODES="$(REDIS_CLUSTER_DIR="$DATA/redis-cluster" bash scripts/redis-cluster.sh nodes)" \
    node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/carts.ts
fi
# The rate limiter's cost on cart operations (limiter off vs on, alternating rounds): bench/rate-limit.ts
if [ "${BENCH_ONLY:-ratelimit}" = ratelimit ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/rate-limit.ts
fi
if [ "${BENCH_ONLY:-checkout}" = checkout ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/checkout.ts
fi
# CPU ms per checkout (API process, worker process, this Temporal server) and history events per checkout
if [ "${BENCH_ONLY:-checkout-cpu}" = checkout-cpu ]; then
  CPU_TEMPORAL_PID="$(cat "$DATA/temporal.pid")" node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/checkout-cpu.ts
fi
# BENCH_ONLY=flash: only the flash sale (bench/flash-sale.ts; the whole checkout part runs it too)
if [ "${BENCH_ONLY:-}" = flash ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/flash-sale.ts
fi
if [ "${BENCH_ONLY:-search}" = search ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/search.ts
fi
if [ "${BENCH_ONLY:-recommendations}" = recommendations ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/recommendations.ts
fi
# The whole storefront (create cart -> add line -> checkout answered) at concurrency 1/10/50 through
# an API process and a worker process, on this in-memory dev server and on a persisted one of its own.
if [ "${BENCH_ONLY:-storefront}" = storefront ]; then
  node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/storefront.ts
fi
# The checkout on both Temporal servers in one run: the CLI dev server, then the server built
# from Go on this PostgreSQL (also with 2 API + 2 worker processes, audited); a table at the end.
if [ "${BENCH_ONLY:-servers}" = servers ]; then
  export BENCH_SERVERS_OUT="$DATA/servers.json"
  TSX=(node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs")
  "${TSX[@]}" bench/servers.ts single dev
  SERVICES=temporal bash scripts/services.sh stop
  TEMPORAL_SERVER=cluster SERVICES=temporal bash scripts/services.sh start
  "${TSX[@]}" bench/servers.ts single cluster
  "${TSX[@]}" bench/servers.ts processes cluster
  "${TSX[@]}" bench/servers.ts table
fi
