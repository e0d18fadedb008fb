#!/usr/bin/env bash
# Starts a single-node Elasticsearch in the background and waits until it is healthy.
#   start.sh HOME PORT DATA_DIR LOG_FILE      (HOME as laid out by build.sh; read only)
# Prints the node's PID (its only line of output). Stop it with `kill <pid>` (SIGTERM closes
# the node cleanly); the same DATA_DIR again keeps the indices. ES_HEAP sets the heap (1g: with 512m a CI run spent over half of some seconds in GC).
set -euo pipefail
HOME_DIR="${1:?usage: start.sh HOME PORT DATA_DIR LOG_FILE}"
PORT="${2:?port}"
DATA_DIR="${3:?data dir}"
LOG_FILE="${4:?log file}"
HEAP="${ES_HEAP:-1g}"
mkdir -p "$DATA_DIR/tmp"
nohup java -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseSerialGC -Dfile.encoding=UTF-8 -Djava.io.tmpdir="$DATA_DIR/tmp" \
  -Dlog4j2.formatMsgNoLookups=true \
  --module-path "$HOME_DIR/lib" --add-modules ALL-MODULE-PATH -cp "$HOME_DIR/launcher" \
  OrderlyEsNode "$HOME_DIR" "$PORT" "$DATA_DIR" >"$LOG_FILE" 2>&1 </dev/null &
pid=$!
deadline=$((SECONDS + ${ES_START_TIMEOUT:-90}))
until curl -sf "http://127.0.0.1:$PORT/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "elasticsearch exited before it was healthy:" >&2; tail -20 "$LOG_FILE" >&2; exit 1
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "elasticsearch not healthy in time; stopping pid $pid" >&2; kill -KILL "$pid" 2>/dev/null || true; tail -20 "$LOG_FILE" >&2; exit 1
  fi
  sleep 0.3
done
echo "$pid"
