#!/usr/bin/env bash
# `npm run reindex`: rebuilds the search index of the running service (`npm run dev`, or the
# services named by the environment) behind its alias, with no moment without search.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
DATA="${ORDERLY_DATA_DIR:-$ROOT/.data/dev}"
if [ -z "${ELASTICSEARCH_URL:-}" ] && [ -f "$DATA/services.env" ]; then
  # shellcheck disable=SC1091
  source "$DATA/services.env"
fi
exec node --import "file://$ROOT/node_modules/tsx/dist/loader.mjs" scripts/reindex.ts
