#!/usr/bin/env bash
# Talks to the demo gateway with clients nobody here wrote: buf curl (server reflection, JSON
# mapping) and Python's grpcio; and lints the public protos with buf (STANDARD rules).
# Usage: third_party_clients_test.sh GATEWAY CIVITASCTL BUF PROTO_DIR
set -euo pipefail
gateway=$1 ctl=$2 buf=$3 proto_dir=$4
[ -x "$buf" ] || { echo "FAIL: buf not installed at $buf (run: cd tests/tools && npm ci)"; exit 1; }

dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
"$gateway" --data_dir="$dir/state" --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --port_file="$dir/port" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -s "$dir/port" ] && break; sleep 0.02; done
[ -s "$dir/port" ] || { echo "FAIL: gateway did not start"; cat "$dir/log"; exit 1; }
url="http://127.0.0.1:$(head -1 "$dir/port")"
svc=civitas.noticeboard.v1.NoticeboardService
passed=0 failed=0
check() {  # check NAME EXPECTED_SUBSTRING OUTPUT
  if grep -qF -- "$2" <<<"$3"; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: expected '$2' in:"; echo "$3"; fi
}
curl_grpc() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@" 2>&1 || true; }

check "buf curl lists module methods via reflection" "$svc/ListNotices" \
  "$(curl_grpc --list-methods "$url")"
check "buf curl lists the gateway's own services" "grpc.health.v1.Health/Check" \
  "$(curl_grpc --list-methods "$url")"
check "buf curl lists the gateway's push and privacy services" "civitas.notify.v1.NotifyService/RegisterDevice" \
  "$(curl_grpc --list-methods "$url")"
check "reflection answers for google.rpc.ErrorInfo (the type of every error's details)" \
  '"fileDescriptorResponse"' \
  "$(curl_grpc -d '{"file_containing_symbol": "google.rpc.ErrorInfo"}' \
     "$url/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")"
check "buf curl calls a module method with JSON" '"title": "Katze zugelaufen in der Nordstadt"' \
  "$(curl_grpc -d '{"page_size": 50}' "$url/$svc/ListNotices")"
token=$("$ctl" token mint --city demo --subject buf-user --role citizen \
  --signing-key "$dir/state/dev-signing-key.pem")
check "buf curl writes with a civitasctl token" '"author": "buf-user"' \
  "$(curl_grpc -H "authorization: Bearer $token" -d '{"notice": {"title": "Schlüssel gefunden"}}' \
     "$url/$svc/CreateNotice")"
check "buf curl sees UNAUTHENTICATED without a token" '"code": "unauthenticated"' \
  "$(curl_grpc -d '{"notice": {"title": "x"}}' "$url/$svc/CreateNotice")"
check "buf curl sees NOT_FOUND for an unknown city" '"code": "not_found"' \
  "$(curl_grpc -H 'x-civitas-city: atlantis' -d '{}' "$url/$svc/ListNotices")"
check "buf curl sees INVALID_ARGUMENT with the module's message" 'page_size must be between 0 and 100' \
  "$(curl_grpc -d '{"page_size": 5000}' "$url/$svc/ListNotices")"

# curl against the JSON/HTTP side: JSON, errors as JSON, and the raw feeds.
http="http://127.0.0.1:$(sed -n 2p "$dir/port")"
check "curl reads articles as JSON" '"nextPageToken"' "$(curl -s "$http/v1/articles?page_size=2")"
check "curl sees a JSON error with the gRPC code" '"status":"INVALID_ARGUMENT"' \
  "$(curl -s "$http/v1/articles?page_size=5000")"
check "curl gets the RSS feed with its content type" 'content-type: application/rss+xml' \
  "$(curl -s -i "$http/cities/demo/v1/feed" | tr 'A-Z' 'a-z')"
check "curl gets the calendar subscription" 'BEGIN:VCALENDAR' "$(curl -s "$http/cities/demo/v1/calendar.ics")"
check "curl posts JSON with a token" '"title":"Per curl"' \
  "$(curl -s -H "authorization: Bearer $("$ctl" token mint --city demo --subject c --role editor \
       --signing-key "$dir/state/dev-signing-key.pem")" -X POST "$http/v1/articles" \
       -d '{"title": "Per curl"}')"

python_out=$(/usr/bin/python3 - "$(head -1 "$dir/port")" <<'PY' 2>&1 || true
import sys, grpc
channel = grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}")
check = channel.unary_unary("/grpc.health.v1.Health/Check")
print("health", check(b"", timeout=5).hex())  # 0801 = SERVING
lst = channel.unary_unary("/civitas.noticeboard.v1.NoticeboardService/ListNotices")
print("list-bytes", len(lst(b"", timeout=5)) > 100)
try:
    lst(b"", timeout=5, metadata=(("x-civitas-city", "atlantis"),))
except grpc.RpcError as e:
    print("unknown-city", e.code().name)
try:
    lst(b"\xff\xff\xff", timeout=5)
except grpc.RpcError as e:
    print("garbage", e.code().name)
PY
)
check "python grpcio health check is SERVING" "health 0801" "$python_out"
check "python grpcio reads a module response" "list-bytes True" "$python_out"
check "python grpcio gets NOT_FOUND for an unknown city" "unknown-city NOT_FOUND" "$python_out"
check "python grpcio gets INVALID_ARGUMENT for garbage" "garbage INVALID_ARGUMENT" "$python_out"

# Android: Java and Kotlin (lite) from proto/civitas alone, each file's classes in its java_package
# (the google/ protos come from proto-google-common-protos on Android).
gen="$dir/gen-java"
mkdir -p "$gen"
check "protoc generates Java and Kotlin (lite) for every public proto" \
  "org/civitas/news/v1/Article.java org/civitas/news/v1/ArticleKt.kt org/civitas/notify/v1/NotifyProto.java" \
  "$(cd "$proto_dir" && protoc -I . --java_out=lite:"$gen" --kotlin_out=lite:"$gen" \
       $(find civitas -name '*.proto' | sort) 2>&1 &&
     cd "$gen" && ls org/civitas/news/v1/Article.java org/civitas/news/v1/ArticleKt.kt \
       org/civitas/notify/v1/NotifyProto.java | xargs)"
# The v1 API only grows: nothing of what tests/api/v1-baseline.binpb holds (the API as first
# published) may be removed, renamed or renumbered (docs/app-guide.md, "Versions").
check "buf breaking: proto/ is compatible with the published v1" "v1-compatible" \
  "$(cd "$proto_dir" && "$buf" breaking . --against "$proto_dir/../tests/api/v1-baseline.binpb" 2>&1 &&
     echo v1-compatible)"
check "buf lint (STANDARD) passes on proto/" "lint-clean" \
  "$(cd "$proto_dir" && "$buf" lint 2>&1 && echo lint-clean)"

echo "third-party clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
