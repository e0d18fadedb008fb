#!/usr/bin/env bash
# `npm run faults`: the same bootstrap as the tests, throw-away services with Temporal
# persisted (so it can be restarted mid-flight), then bench/faults.ts. Loopback only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
DATA="$(mktemp -d "${TMPDIR:-/tmp}/orderly-faults.XXXXXX")"
chmod 755 "$DATA"
export ORDERLY_DATA_DIR="$DATA" PG_PORT="${PG_PORT:-55632}" REDIS_PORT="${REDIS_PORT:-56579}" TEMPORAL_PORT="${TEMPORAL_PORT:-7433}"
export TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8433}" SMTP_PORT="${SMTP_PORT:-1225}" MAIL_UI_PORT="${MAIL_UI_PORT:-1280}" STRIPE_MOCK_PORT="${STRIPE_MOCK_PORT:-12311}" ES_PORT="${ES_PORT:-59202}"
export TEMPORAL_PERSIST=1 TEMPORAL_HEADLESS=1 TEMPORAL_TASK_QUEUE=faults
cleanup() { SERVICES="postgres redis temporal elasticsearch smtp" bash "$ROOT/scripts/services.sh" stop || true; rm -rf "$DATA"; }
trap cleanup EXIT INT TERM
SERVICES="postgres redis temporal elasticsearch smtp" bash scripts/services.sh start
source "$DATA/services.env"
TSX=(node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs")
"${TSX[@]}" db/migrate.ts
# FAULT_SCENARIOS=<substring>[,<substring>] runs only the matching scenarios (and skips the
# long fuzz and model runs); FAULT_CHECKOUTS sets the checkouts per scenario (default 30).
rc=0
"${TSX[@]}" bench/faults.ts || rc=$?
if [ -n "${FAULT_SCENARIOS:-}" ]; then exit "$rc"; fi
# Bad input at scale: the property test's long run (FUZZ_RUNS generated requests, default
# 20,000) against this stack: no 5xx, contract error shape, no write from a rejected request.
FUZZ_RUNS="${FUZZ_RUNS:-20000}" "$ROOT/node_modules/.bin/jest" --runInBand test/api/fuzz.test.ts || rc=$?
# Interleavings at scale: the model-based test's long run (MODEL_RUNS random command
# sequences, default 100, against the real stores, Temporal and the local gateway).
MODEL_RUNS="${MODEL_RUNS:-100}" MODEL_COMMANDS="${MODEL_COMMANDS:-20}" "$ROOT/node_modules/.bin/jest" --runInBand test/model/checkout-model.test.ts || rc=$?
# The contract at scale: schemathesis against the served /openapi.json with many more
# examples per operation (SCHEMATHESIS_EXAMPLES, default 200) than npm test's 10.
SCHEMATHESIS_EXAMPLES="${SCHEMATHESIS_EXAMPLES:-200}" "$ROOT/node_modules/.bin/jest" --runInBand --testTimeout=1800000 test/api/schemathesis.test.ts || rc=$?
exit "$rc"
