#!/usr/bin/env bash
# Lays out a runnable Elasticsearch 8.19 from Maven Central jars in DEST (idempotent):
#   DEST/lib                        the server and its runtime jars (run on the module path)
#   DEST/modules/transport-netty4   the HTTP/transport module with its plugin descriptor
#   DEST/config                     log4j2.properties
#   DEST/launcher                   OrderlyEsNode.class (starts a single node; see start.sh)
# Rebuilt only when pom.xml, the launcher or the log config change.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:?usage: build.sh DEST}"
inputs_hash=$(cat "$HERE/pom.xml" "$HERE/OrderlyEsNode.java" "$HERE/log4j2.properties" | sha256sum | cut -d' ' -f1)
if [ -f "$DEST/.built" ] && [ "$(cat "$DEST/.built")" = "$inputs_hash" ]; then
  exit 0
fi
command -v mvn >/dev/null || { echo "build.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
command -v javac >/dev/null || { echo "build.sh: javac not found (a JDK 17+)" >&2; exit 1; }

echo "[elasticsearch] fetching jars from Maven Central" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$work/jars" >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  echo "build.sh: fetching the Elasticsearch jars failed" >&2
  exit 1
fi

staging="$DEST.staging"
rm -rf "$staging"
mkdir -p "$staging/lib" "$staging/modules/transport-netty4" "$staging/config" "$staging/launcher"
for jar in "$work"/jars/*.jar; do
  case "$(basename "$jar")" in
    netty-*|transport-netty4-*) cp "$jar" "$staging/modules/transport-netty4/" ;;
    *) cp "$jar" "$staging/lib/" ;;
  esac
done
(cd "$staging/modules/transport-netty4" && unzip -o -j -q transport-netty4-*.jar 'META-INF/es-plugins/transport-netty4/*' -d .)
[ -f "$staging/modules/transport-netty4/plugin-descriptor.properties" ] || { echo "build.sh: no plugin descriptor in transport-netty4" >&2; exit 1; }
cp "$HERE/log4j2.properties" "$staging/config/"
javac -d "$staging/launcher" --module-path "$staging/lib" --add-modules ALL-MODULE-PATH "$HERE/OrderlyEsNode.java"
echo "$inputs_hash" >"$staging/.built"
rm -rf "$DEST"
mv "$staging" "$DEST"
echo "[elasticsearch] built in $DEST" >&2
