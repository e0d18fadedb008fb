#!/usr/bin/env bash
# A local Redis Cluster: 3 masters + 3 replicas (redis-server in cluster mode, AOF on), created
# with `redis-cli --cluster create --cluster-replicas 1` on the first start.
# Usage: scripts/redis-cluster.sh start|stop|status|env|nodes
#   env    prints `export REDIS_CLUSTER_NODES=...` (source it to point the API and worker at it)
#   nodes  prints only the host:port list
# Settings (env): REDIS_CLUSTER_DIR (default $ORDERLY_DATA_DIR/redis-cluster, else
#   .data/dev/redis-cluster), REDIS_CLUSTER_PORT (first of 6 consecutive ports, default 61001, or
#   `auto`: the first free block from 61001 on, above the ephemeral range the OS hands out; the
#   cluster bus uses port+100),
#   REDIS_CLUSTER_NODE_TIMEOUT_MS (default 1000: how soon a replica takes over a dead master).
# Each node is tracked by a pid file (<dir>/<port>.pid); stop kills only those pids.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="${REDIS_CLUSTER_DIR:-${ORDERLY_DATA_DIR:-$ROOT/.data/dev}/redis-cluster}"
NODE_TIMEOUT="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-1000}"
BUS_OFFSET=100
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

running() { [ -f "$1" ] && kill -0 "$(head -1 "$1")" 2>/dev/null; }
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The ports are chosen once per data dir and kept in it, so start after stop reuses them.
base_port() {
  if [ -f "$DIR/base-port" ]; then cat "$DIR/base-port"; return; fi
  local base="${REDIS_CLUSTER_PORT:-61001}"
  if [ "$base" = auto ]; then
    base=61001
    while :; do
      local p busy=0
      for p in $(seq "$base" $((base + 5))); do
        if in_use "$p" || in_use $((p + BUS_OFFSET)); then busy=1; break; fi
      done
      [ $busy = 0 ] && break
      base=$((base + 10))
      [ "$base" -lt 65300 ] || die "no free block of ports for the Redis Cluster"
    done
  fi
  echo "$base" >"$DIR/base-port"
  echo "$base"
}

PORTS=()
ports() { [ ${#PORTS[@]} -gt 0 ] && return; local base; base="$(base_port)"; mapfile -t PORTS < <(seq "$base" $((base + 5))); }
nodes() { local p out=(); for p in "${PORTS[@]}"; do out+=("127.0.0.1:$p"); done; (IFS=,; echo "${out[*]}"); }

start_node() {
  local port=$1
  running "$DIR/$port.pid" && return 0
  mkdir -p "$DIR/$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$DIR/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --cluster-port $((port + BUS_OFFSET)) --shutdown-on-sigterm now \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$DIR/$port.pid" --logfile "$DIR/$port.log" 9>&-
  # (9>&-: the node must not inherit the start lock's descriptor, or it would hold the lock for
  # as long as it runs and every later start would wait forever)
  wait_for 10 redis-cli -p "$port" ping || { tail -20 "$DIR/$port.log" >&2; die "redis cluster node $port failed to start"; }
}

cluster_ok() {
  local p
  for p in "${PORTS[@]}"; do
    running "$DIR/$p.pid" || continue
    redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || return 1
  done
}

start() {
  local p
  for p in "${PORTS[@]}"; do start_node "$p"; done
  if [ ! -f "$DIR/created" ]; then
    local addrs=()
    for p in "${PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 \
      || { cat "$DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
    touch "$DIR/created"
  fi
  wait_for 30 cluster_ok || die "the Redis Cluster did not reach cluster_state:ok (logs in $DIR)"
  # Every node must know all six before a client's first slot map is trusted.
  wait_for 30 bash -c "[ \$(redis-cli -p ${PORTS[0]} cluster nodes | grep -vc fail) -ge 6 ]" || die "the cluster nodes did not meet"
  # ...and every replica attached and synced: a failover needs one, and CLUSTER SLOTS lists it only then.
  wait_for 30 replicas_synced || die "the cluster's replicas did not sync with their masters"
}

replicas_synced() {
  local p synced=0
  for p in "${PORTS[@]}"; do
    if redis-cli -p "$p" info replication | grep -q '^master_link_status:up'; then synced=$((synced + 1)); fi
  done
  [ "$synced" -ge 3 ] || return 1
  # every node sees the three replicas
  for p in "${PORTS[@]}"; do
    [ "$(redis-cli -p "$p" cluster nodes | grep -c slave)" -ge 3 ] || return 1
  done
}

# All six at once (each takes a second or two to exit), each by its own pid file.
stop() {
  local p
  for p in "${PORTS[@]}"; do stop_pidfile "$DIR/$p.pid" "redis-cluster-$p" & done
  wait
}

if [ "${1:-}" != start ]; then
  # Never started in this dir: nothing to stop or show.
  [ -f "$DIR/base-port" ] || { [ "${1:-}" = stop ] && exit 0; [ "${1:-}" = status ] && { echo "redis-cluster: not created in $DIR"; exit 0; }; }
  ports
fi
case "${1:-}" in
  start)
    # Port choice and start under one lock: two suites starting clusters at once pick different blocks.
    exec 9>"${TMPDIR:-/tmp}/orderly-redis-cluster.lock"
    # bounded: a start never waits forever behind another one
    flock -w 120 9 || die "another Redis Cluster start held the lock for 2 minutes"
    ports
    start
    ;;
  stop) stop ;;
  status)
    for p in "${PORTS[@]}"; do
      if running "$DIR/$p.pid"; then echo "$p: running (pid $(cat "$DIR/$p.pid")) $(redis-cli -p "$p" role | head -1)"; else echo "$p: stopped"; fi
    done
    ;;
  env) echo "export REDIS_CLUSTER_NODES=$(nodes)" ;;
  nodes) nodes ;;
  *) echo "usage: $0 start|stop|status|env|nodes" >&2; exit 2 ;;
esac
