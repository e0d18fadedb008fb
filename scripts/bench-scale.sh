#!/usr/bin/env bash
# `npm run bench:scale` (or `npm run bench -- --scale`): cost curves (bench/scale.ts) on throw-away
# services of their own (ports below, a temp data dir removed at the end): PostgreSQL, Redis,
# Elasticsearch, SMTP and the Temporal server built from Go on that PostgreSQL (its tables are
# what the recovery part measures). The cart part starts one more redis-server of its own.
#   SCALE=quick           reduced sizes, to check the command end to end (a few minutes)
#   SCALE_ONLY=search,…   some parts only (search, carts, recovery, checkout); the others keep
#                         their previous figures in bench/results/scale-latest.json
#   SCALE_BOOTSTRAP=0     skip scripts/bootstrap.sh (tools already in place)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ "${SCALE_BOOTSTRAP:-1}" = 0 ] || bash scripts/bootstrap.sh
DATA="$(mktemp -d "${TMPDIR:-/tmp}/orderly-scale.XXXXXX")"
chmod 755 "$DATA"
export ORDERLY_DATA_DIR="$DATA" PG_PORT="${SCALE_PG_PORT:-55632}" REDIS_PORT="${SCALE_REDIS_PORT:-56579}" TEMPORAL_PORT="${SCALE_TEMPORAL_PORT:-7433}"
export TEMPORAL_UI_PORT="${SCALE_TEMPORAL_UI_PORT:-8433}" SMTP_PORT="${SCALE_SMTP_PORT:-1225}" MAIL_UI_PORT="${SCALE_MAIL_UI_PORT:-1280}" ES_PORT="${SCALE_ES_PORT:-59301}"
export TEMPORAL_SERVER=cluster SERVICES="postgres redis temporal elasticsearch smtp"
cleanup() { bash "$ROOT/scripts/services.sh" stop || true; rm -rf "$DATA"; }
trap cleanup EXIT INT TERM
bash scripts/services.sh start
source "$DATA/services.env"
node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" db/migrate.ts
node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/scale.ts
