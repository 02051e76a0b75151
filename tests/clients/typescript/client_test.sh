#!/usr/bin/env bash
# Generates the TypeScript types from the protos, type-checks and builds the example app client,
# and runs it against the embedded demo on a real gateway: the recipe of docs/app-guide.md, kept
# working. Usage: client_test.sh GATEWAY
set -euo pipefail
gateway=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/node_modules/.bin/tsc" ] || {
  echo "FAIL: run 'make tools' (npm ci in tests/clients/typescript)"; exit 1; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# A copy, so parallel runs and the checkout stay clean.
cp -r "$here/src" "$here/package.json" "$here/tsconfig.json" "$here/buf.gen.yaml" "$dir/"
ln -s "$here/node_modules" "$dir/node_modules"
rm -rf "$dir/src/gen"
(cd "$dir" && node_modules/.bin/buf generate "$here/../../../proto" --template buf.gen.yaml)
(cd "$dir" && node_modules/.bin/tsc -p .)

"$gateway" --data_dir="$dir/state" --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --port_file="$dir/port" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -s "$dir/port" ] && break; sleep 0.02; done
[ -s "$dir/port" ] || { echo "FAIL: gateway did not start"; cat "$dir/log"; exit 1; }
http="http://127.0.0.1:$(sed -n 2p "$dir/port")"
out=$(cd "$dir" && node dist/client.js "$http" demo 2>&1) || { echo "FAIL: $out"; exit 1; }
echo "$out"
failed=0
expect() { grep -qE -- "$1" <<<"$out" || { echo "FAIL: expected /$1/"; failed=1; }; }
expect '^articles: 5 first: .+'
expect '^report: reports/[0-9a-f]{16} status: SUBMITTED$'
expect '^error: 400 INVALID_ARGUMENT: page_size must be between'
exit $failed
