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
# Ports: the SCALE_*_PORT given, else the default when nothing listens there, else a free one
# (Temporal's frontend port is followed by five more and ringpop ports: tried in steps of 200).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port() {
  if [ -n "${2:-}" ]; then echo "$2"; return; fi
  if ! listening "$1"; then echo "$1"; return; fi
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
temporal_port() {
  if [ -n "${SCALE_TEMPORAL_PORT:-}" ]; then echo "$SCALE_TEMPORAL_PORT"; return; fi
  local p i busy
  for p in 7433 7633 7833 8033 8233 8433 8633; do
    busy=0
    for i in 0 1 2 3 4 5; do listening $((p + i)) && busy=1; done
    [ $busy = 0 ] && { echo "$p"; return; }
  done
  die "no free Temporal port range: set SCALE_TEMPORAL_PORT"
}
export ORDERLY_DATA_DIR="$DATA" PG_PORT="$(port 55632 "${SCALE_PG_PORT:-}")" REDIS_PORT="$(port 56579 "${SCALE_REDIS_PORT:-}")" TEMPORAL_PORT="$(temporal_port)"
export TEMPORAL_UI_PORT="$(port 18433 "${SCALE_TEMPORAL_UI_PORT:-}")" SMTP_PORT="$(port 1225 "${SCALE_SMTP_PORT:-}")" MAIL_UI_PORT="$(port 1280 "${SCALE_MAIL_UI_PORT:-}")" ES_PORT="$(port 59301 "${SCALE_ES_PORT:-}")"
log "scale bench services: PostgreSQL $PG_PORT, Redis $REDIS_PORT, Temporal $TEMPORAL_PORT, Elasticsearch $ES_PORT, SMTP $SMTP_PORT (data $DATA)"
export TEMPORAL_SERVER=cluster SERVICES="postgres redis temporal elasticsearch smtp"
cleanup() { bash "$ROOT/scripts/services.sh" stop || true; rm -rf "$DATA"; }
trap cleanup EXIT INT TERM
bash scripts/services.sh start
source "$DATA/services.env"
node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" db/migrate.ts
node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" bench/scale.ts
