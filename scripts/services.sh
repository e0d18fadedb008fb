#!/usr/bin/env bash
# Starts or stops Orderly's backing services as project-local processes:
#   PostgreSQL 15, Redis (AOF on), the Temporal dev server, Elasticsearch 8.19 (jar-launched),
#   MailDev (SMTP catcher with a web UI and REST API), stripe-mock.
# Usage: scripts/services.sh start|stop|status|env
# Settings (env): ORDERLY_DATA_DIR (default .data/dev), PG_PORT, REDIS_PORT, TEMPORAL_PORT,
#   TEMPORAL_UI_PORT, ES_PORT, SMTP_PORT, MAIL_UI_PORT, STRIPE_MOCK_PORT, TEMPORAL_PERSIST (1 = keep
#   Temporal history in a SQLite file under the data dir), MAIL_MAX_EMAILS (MailDev keeps the
#   newest N, default 5000), SERVICES (subset to run; add `redis-cluster` for a local 3-master
#   Redis Cluster, scripts/redis-cluster.sh, whose REDIS_CLUSTER_NODES then goes into
#   services.env: the API and worker use the cluster),
#   TEMPORAL_SERVER (dev = the CLI dev server, default; cluster = the Temporal server built from
#   Go on this PostgreSQL, see start_temporal_cluster; TEMPORAL_CLUSTER_PORT_BASE, TEMPORAL_RETENTION),
#   TEMPORAL_UI_CODEC_ENDPOINT (the dev server's Web UI decodes payloads there; the cluster lane has no UI).
# Each process is tracked by a pid file in the data dir; stop kills only those pids.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DATA="${ORDERLY_DATA_DIR:-$ROOT/.data/dev}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
SMTP_PORT="${SMTP_PORT:-1025}"
MAIL_UI_PORT="${MAIL_UI_PORT:-1080}"
STRIPE_MOCK_PORT="${STRIPE_MOCK_PORT:-12111}"
# stripe-mock also serves HTTPS: on the next port unless told (tests pick a free one)
STRIPE_MOCK_HTTPS_PORT="${STRIPE_MOCK_HTTPS_PORT:-$((STRIPE_MOCK_PORT + 1))}"
ES_PORT="${ES_PORT:-59200}"
TEMPORAL_PERSIST="${TEMPORAL_PERSIST:-1}"
TEMPORAL_SERVER="${TEMPORAL_SERVER:-dev}"
SERVICES="${SERVICES:-postgres redis temporal elasticsearch smtp stripe}"

mkdir -p "$DATA"
DATA="$(cd "$DATA" && pwd)"

has() { [[ " $SERVICES " == *" $1 "* ]]; }
running() { [ -f "$1" ] && kill -0 "$(head -1 "$1")" 2>/dev/null; }

start_postgres() {
  local dir="$DATA/pg"
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" "$DATA"
    chmod 700 "$dir"
    as_pg_user "$PG_BIN/initdb" -D "$dir" -U orderly --auth=trust -E UTF8 --locale=C.UTF-8 >"$DATA/pg-init.log" 2>&1 \
      || { cat "$DATA/pg-init.log" >&2; die "initdb failed"; }
  fi
  if ! running "$dir/postmaster.pid"; then
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA" && touch "$DATA/postgres.log" && chown postgres "$DATA/postgres.log"
    local extra=""
    # Throw-away test clusters trade durability for speed; dev data stays durable.
    [ "${PG_FAST:-0}" = 1 ] && extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_pg_user "$PG_BIN/pg_ctl" -D "$dir" -l "$DATA/postgres.log" -w -t 30 \
      -o "-p $PG_PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=300 $extra" start >/dev/null \
      || { tail -20 "$DATA/postgres.log" >&2; die "postgres failed to start"; }
  fi
  head -1 "$dir/postmaster.pid" >"$DATA/postgres.pid"
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U orderly -d postgres -tAc "select 1 from pg_database where datname='orderly'" | grep -q 1 \
    || "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U orderly orderly
}

stop_postgres() {
  local dir="$DATA/pg"
  if [ -f "$dir/postmaster.pid" ] && running "$dir/postmaster.pid"; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null 2>&1 || stop_pidfile "$DATA/postgres.pid" postgres
  fi
  rm -f "$DATA/postgres.pid"
}

start_redis() {
  mkdir -p "$DATA/redis"
  running "$DATA/redis.pid" && return 0
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA/redis" \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$DATA/redis.pid" --logfile "$DATA/redis.log"
  wait_for 10 redis-cli -p "$REDIS_PORT" ping || die "redis failed to start"
}

start_temporal() {
  running "$DATA/temporal.pid" && return 0
  local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT"
    --log-level warn --namespace default
    --dynamic-config-value frontend.enableExecuteMultiOperation=true
    --dynamic-config-value frontend.enableUpdateWorkflowExecution=true
    --dynamic-config-value frontend.workerVersioningWorkflowAPIs=true)
  [ "$TEMPORAL_PERSIST" = 1 ] && args+=(--db-filename "$DATA/temporal.db" --sqlite-pragma journal_mode=WAL)
  [ "${TEMPORAL_HEADLESS:-0}" = 1 ] && args+=(--headless)
  # the Web UI decodes payloads (ciphertext in history) through Orderly's codec endpoint (npm run dev sets it)
  [ -n "${TEMPORAL_UI_CODEC_ENDPOINT:-}" ] && args+=(--ui-codec-endpoint "$TEMPORAL_UI_CODEC_ENDPOINT")
  nohup temporal "${args[@]}" >"$DATA/temporal.log" 2>&1 &
  echo $! >"$DATA/temporal.pid"
  wait_for 30 temporal operator namespace describe --address "127.0.0.1:$TEMPORAL_PORT" default \
    || { tail -20 "$DATA/temporal.log" >&2; die "temporal failed to start"; }
  # Registered at every start: a persisted db ignores --search-attribute after creation.
  local sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    temporal operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" --namespace default \
      --name "$sa" --type Keyword >/dev/null 2>&1 || die "could not register search attribute $sa"
  done
}

# TEMPORAL_SERVER=cluster: the Temporal server built from its Go module (scripts/bootstrap.sh)
# on this PostgreSQL (databases temporal and temporal_visibility, SQL visibility), configured from
# temporal/server/config.template.yaml and temporal/server/dynamicconfig.yaml. Data survives a
# restart (it lives in PostgreSQL); the server's log is <data dir>/temporal.log.
start_temporal_cluster() {
  running "$DATA/temporal.pid" && return 0
  [ -x "$TOOLS/bin/temporal-server" ] && [ -x "$TOOLS/bin/temporal-sql-tool" ] \
    || die "the Temporal server is not built: run scripts/bootstrap.sh"
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "TEMPORAL_SERVER=cluster needs PostgreSQL on $PG_PORT (start it too)"
  export TEMPORAL_DB_USER=orderly PG_PORT TEMPORAL_PORT
  local sqltool=(temporal-sql-tool --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u "$TEMPORAL_DB_USER")
  local db dir
  for db in temporal temporal_visibility; do
    dir=temporal; [ $db = temporal_visibility ] && dir=visibility
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U orderly -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U orderly "$db"
    if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U orderly -d "$db" -tAc "select 1 from information_schema.tables where table_name='schema_version'" | grep -q 1; then
      "${sqltool[@]}" --db "$db" setup-schema -v 0.0 >>"$DATA/temporal-schema.log" 2>&1 \
        || { tail -20 "$DATA/temporal-schema.log" >&2; die "temporal-sql-tool setup-schema failed for $db"; }
    fi
    # Applies only the versions the database lacks: a no-op on a restart.
    "${sqltool[@]}" --db "$db" update-schema -d "$TEMPORAL_SCHEMA_DIR/$dir/versioned" >>"$DATA/temporal-schema.log" 2>&1 \
      || { tail -20 "$DATA/temporal-schema.log" >&2; die "temporal-sql-tool update-schema failed for $db"; }
  done

  # Ports: the frontend on TEMPORAL_PORT, the others from TEMPORAL_CLUSTER_PORT_BASE (default
  # TEMPORAL_PORT + 1: http, history, matching, worker, metrics). The membership (ringpop) ports
  # are stored in a smallint column, so they must stay below 32768: TEMPORAL_MEMBERSHIP_PORT_BASE
  # (default derived from TEMPORAL_PORT, 4 ports in 6933..14932).
  local base="${TEMPORAL_CLUSTER_PORT_BASE:-$((TEMPORAL_PORT + 1))}"
  local mbase="${TEMPORAL_MEMBERSHIP_PORT_BASE:-$((6933 + (TEMPORAL_PORT % 2000) * 4))}"
  export TEMPORAL_HTTP_PORT=$base TEMPORAL_HISTORY_PORT=$((base + 1)) TEMPORAL_MATCHING_PORT=$((base + 2)) \
    TEMPORAL_WORKER_PORT=$((base + 3)) TEMPORAL_METRICS_PORT=$((base + 4)) \
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT=$mbase TEMPORAL_HISTORY_MEMBERSHIP_PORT=$((mbase + 1)) \
    TEMPORAL_MATCHING_MEMBERSHIP_PORT=$((mbase + 2)) TEMPORAL_WORKER_MEMBERSHIP_PORT=$((mbase + 3)) \
    TEMPORAL_LOG_LEVEL="${TEMPORAL_LOG_LEVEL:-warn}" \
    TEMPORAL_DYNAMIC_CONFIG="${TEMPORAL_DYNAMIC_CONFIG:-$ROOT/temporal/server/dynamicconfig.yaml}"
  mkdir -p "$DATA/temporal-server"
  # ${NAME} placeholders from the environment; an unset one is an error, not an empty port.
  perl -pe 's/\$\{(\w+)\}/defined $ENV{$1} ? $ENV{$1} : die "unset $1 in the Temporal config template\n"/ge' \
    "$ROOT/temporal/server/config.template.yaml" >"$DATA/temporal-server/development.yaml" \
    || die "could not render the Temporal server config"

  nohup temporal-server --root "$DATA" --config temporal-server --env development --allow-no-auth start >>"$DATA/temporal.log" 2>&1 &
  echo $! >"$DATA/temporal.pid"
  local addr=(--address "127.0.0.1:$TEMPORAL_PORT")
  local deadline=$((SECONDS + 90))
  until temporal operator cluster health "${addr[@]}" >/dev/null 2>&1; do
    if ! running "$DATA/temporal.pid" || [ $SECONDS -ge $deadline ]; then
      tail -c 3000 "$DATA/temporal.log" >&2; die "the Temporal server failed to start (log: $DATA/temporal.log)"
    fi
    sleep 0.5
  done
  if ! temporal operator namespace describe "${addr[@]}" --namespace default >/dev/null 2>&1; then
    temporal operator namespace create "${addr[@]}" --namespace default --retention "${TEMPORAL_RETENTION:-72h}" >/dev/null \
      || die "could not register the namespace default"
  fi
  local sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    wait_for 30 temporal operator search-attribute create "${addr[@]}" --namespace default --name "$sa" --type Keyword \
      || die "could not register search attribute $sa"
  done
  # A new namespace reaches the frontend's cache within seconds: wait until it answers.
  wait_for 60 temporal workflow list "${addr[@]}" --namespace default --limit 1 \
    || die "the namespace default did not become usable"
}


# MailDev (npm devDependency): SMTP on SMTP_PORT; web UI (the HTML emails as a customer sees
# them) and REST API (/api/email, what the tests read) on MAIL_UI_PORT. Mail is kept as .eml
# files under the data dir (MAIL_MAX_EMAILS newest), so a dev restart keeps the inbox.
start_smtp() {
  running "$DATA/smtp.pid" && return 0
  mkdir -p "$DATA/maildev"
  nohup node "$ROOT/node_modules/maildev/dist/bin/maildev.js" --smtp "$SMTP_PORT" --ip 127.0.0.1 \
    --web "$MAIL_UI_PORT" --web-ip 127.0.0.1 --mail-directory "$DATA/maildev" \
    --max-emails "${MAIL_MAX_EMAILS:-5000}" --silent >"$DATA/smtp.log" 2>&1 &
  echo $! >"$DATA/smtp.pid"
  wait_for 30 curl -sf "http://127.0.0.1:$MAIL_UI_PORT/api/healthz" || { tail -20 "$DATA/smtp.log" >&2; die "MailDev failed to start"; }
}

start_stripe() {
  running "$DATA/stripe-mock.pid" && return 0
  nohup stripe-mock -http-port "$STRIPE_MOCK_PORT" -https-port "$STRIPE_MOCK_HTTPS_PORT" >"$DATA/stripe-mock.log" 2>&1 &
  echo $! >"$DATA/stripe-mock.pid"
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$STRIPE_MOCK_PORT" || { tail -20 "$DATA/stripe-mock.log" >&2; die "stripe-mock failed to start"; }
}

start_elasticsearch() {
  running "$DATA/elasticsearch.pid" && return 0
  bash "$ROOT/scripts/elasticsearch/build.sh" "$TOOLS/elasticsearch"
  local pid
  pid=$(bash "$ROOT/scripts/elasticsearch/start.sh" "$TOOLS/elasticsearch" "$ES_PORT" "$DATA/elasticsearch" "$DATA/elasticsearch.log") \
    || die "elasticsearch failed to start (log: $DATA/elasticsearch.log)"
  echo "$pid" >"$DATA/elasticsearch.pid"
}

write_env() {
  cat >"$DATA/services.env" <<ENV
export DATABASE_URL=postgres://orderly@127.0.0.1:$PG_PORT/orderly
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
export TEMPORAL_UI_URL=http://localhost:$TEMPORAL_UI_PORT
export SMTP_HOST=127.0.0.1
export SMTP_PORT=$SMTP_PORT
export MAIL_UI_URL=http://127.0.0.1:$MAIL_UI_PORT
export STRIPE_API_BASE=http://127.0.0.1:$STRIPE_MOCK_PORT
export ELASTICSEARCH_URL=http://127.0.0.1:$ES_PORT
export ORDERLY_DATA_DIR=$DATA
export TEMPORAL_SERVER=$TEMPORAL_SERVER
ENV
  if has redis-cluster; then cluster env >>"$DATA/services.env"; fi
}

cluster() { REDIS_CLUSTER_DIR="$DATA/redis-cluster" bash "$ROOT/scripts/redis-cluster.sh" "$@"; }

case "${1:-}" in
  start)
    started=0
    trap '[ $started = 1 ] || { log "start failed; stopping what was started"; "$0" stop; }' EXIT
    has postgres && start_postgres
    has redis && start_redis
    if has redis-cluster; then cluster start; fi
    if has temporal; then
      if [ "$TEMPORAL_SERVER" = cluster ]; then start_temporal_cluster; else start_temporal; fi
    fi
    has elasticsearch && start_elasticsearch
    has smtp && start_smtp
    has stripe && start_stripe
    write_env
    started=1
    ;;
  stop)
    # SERVICES narrows it too (the fault harness restarts one service at a time)
    if has smtp; then stop_pidfile "$DATA/smtp.pid" smtp; fi
    if has stripe; then stop_pidfile "$DATA/stripe-mock.pid" stripe-mock; fi
    if has elasticsearch; then stop_pidfile "$DATA/elasticsearch.pid" elasticsearch; fi
    if has temporal; then stop_pidfile "$DATA/temporal.pid" temporal; fi
    if has redis; then stop_pidfile "$DATA/redis.pid" redis; fi
    if has redis-cluster; then cluster stop; fi
    if has postgres; then stop_postgres; fi
    ;;
  status)
    for f in postgres redis temporal elasticsearch smtp stripe-mock; do
      if running "$DATA/$f.pid"; then echo "$f: running (pid $(cat "$DATA/$f.pid"))"; else echo "$f: stopped"; fi
    done
    if has redis-cluster; then cluster status; fi
    ;;
  env) write_env; cat "$DATA/services.env" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
