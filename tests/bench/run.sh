#!/usr/bin/env bash
# The dispatch benchmark: a bare typed gRPC echo server (callback and sync API) and the gateway
# serving the same echo as a module, loaded in turn by h2load in one run. Prints a Markdown table
# with req/s, mean latency and the ratio to the best bare server, plus the demo's start-to-SERVING
# time and idle RSS.
#   tests/bench/run.sh [BUILD_DIR] [REQUESTS]
set -euo pipefail
build=$(realpath "${1:-build-release}")
requests=${2:-200000}
clients=16 streams=16
command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client"; exit 1; }

source "$(dirname "$0")/common.sh"

# One gRPC frame: no compression, 4-byte length, then EchoRequest{payload: 16 bytes}.
body=$dir/echo.bin
printf '\x00\x00\x00\x00\x12\x0a\x10abcdefghijklmnop' > "$body"
expected_data=23  # the response frame: 5-byte prefix + 18-byte EchoResponse

load() {  # load NAME PORT -> one table row
  local name=$1 port=$2 out rps mean data ok
  # Warm up, then measure.
  h2load -n 5000 -c "$clients" -m "$streams" -d "$body" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://127.0.0.1:$port/civitas.bench.v1.EchoService/Echo" >/dev/null
  out=$(h2load -n "$requests" -c "$clients" -m "$streams" -d "$body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/civitas.bench.v1.EchoService/Echo")
  rps=$(grep -oP 'finished in [0-9.]+m?s, \K[0-9.]+' <<<"$out")
  ok=$(grep -oP 'requests: .* \K[0-9]+(?= succeeded)' <<<"$out")
  data=$(grep -oP 'traffic: .*, [0-9.]+[KMG]?B \(\K[0-9]+(?=\) data)' <<<"$out")
  mean=$(grep -oP 'time for request: +\S+ +\S+ +\K\S+' <<<"$out")
  # h2load counts gRPC errors as successes: every response must carry the full echo frame.
  if [ "$ok" != "$requests" ] || [ "$data" != "$((requests * expected_data))" ]; then
    echo "$name: responses are not all valid echoes (succeeded=$ok data=$data)" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$name|$rps|$mean"
}

grpc_status() {  # one real call through Python's grpcio; prints the status code name
  /usr/bin/python3 - "$1" <<'PY'
import sys, grpc
ch = grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}")
echo = ch.unary_unary("/civitas.bench.v1.EchoService/Echo")
try:
    r = echo(b"\x0a\x10abcdefghijklmnop", timeout=5)
    print("OK" if r == b"\x0a\x10abcdefghijklmnop" else "WRONG-PAYLOAD")
except grpc.RpcError as e:
    print(e.code().name)
PY
}

rows=()
for api in callback sync; do
  "$build/bin/echo_server" --api "$api" --port_file "$dir/echo-$api.port" &
  pids+=($!)
  port=$(wait_port "$dir/echo-$api.port")
  [ "$(grpc_status "$port")" = OK ] || { echo "echo server ($api) does not answer OK"; exit 1; }
  rows+=("$(load "bare gRPC echo ($api API)" "$port")")
  kill "${pids[-1]}"
done

cat > "$dir/gateway.yaml" <<YAML
data_dir: $dir/data
storage: {durability: async}
limits: {write_rate: {per_subject: {per_minute: 0}, anonymous_per_peer: {per_minute: 0}}}
cities:
  - id: bench
    modules:
      - id: civitas.bench.echo
        path: $build/lib/civitas/bench/civitas.bench.echo.so
YAML
"$build/bin/civitas-gateway" --config "$dir/gateway.yaml" --listen 127.0.0.1:0 \
  --port_file "$dir/gw.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 --log_level error &
pids+=($!)
port=$(wait_port "$dir/gw.port")
[ "$(grpc_status "$port")" = OK ] || { echo "gateway echo does not answer OK"; exit 1; }
rows+=("$(load "civitas-gateway, echo module (generic dispatch + handler pool)" "$port")")

best=0
for r in "${rows[@]:0:2}"; do
  rps=$(cut -d'|' -f2 <<<"$r"); best=$(awk -v a="$best" -v b="$rps" 'BEGIN{print (b>a)?b:a}')
done

# The demo: time from exec to the port file (written once serving), and its idle RSS.
start_ns=$(date +%s%N)
"$build/bin/civitas-gateway" --data_dir "$dir/demo" --listen 127.0.0.1:0 \
  --port_file "$dir/demo.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 --log_level error >/dev/null &
demo=$!
pids+=($demo)
wait_port "$dir/demo.port" >/dev/null
serving_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 1
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$demo/status")
kill $demo; wait $demo 2>/dev/null || true
# Second start: the city exists, no seeding.
start_ns=$(date +%s%N)
rm -f "$dir/demo.port"
"$build/bin/civitas-gateway" --data_dir "$dir/demo" --listen 127.0.0.1:0 \
  --port_file "$dir/demo.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 --log_level error >/dev/null &
demo=$!
pids+=($demo)
wait_port "$dir/demo.port" >/dev/null
restart_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load: h2load -n $requests -c $clients -m $streams, 18-byte unary echo, client on the same machine"
echo
echo "| server | req/s | mean latency | ratio to best bare echo |"
echo "|---|---:|---:|---:|"
for r in "${rows[@]}"; do
  IFS='|' read -r name rps mean <<<"$r"
  printf '| %s | %.0f | %s | %.2f |\n' "$name" "$rps" "$mean" "$(awk -v a="$rps" -v b="$best" 'BEGIN{print a/b}')"
done
echo
echo "| demo gateway | value |"
echo "|---|---:|"
echo "| start to SERVING, first start (creates and seeds the city) | ${serving_ms} ms |"
echo "| start to SERVING, restart | ${restart_ms} ms |"
echo "| idle RSS (1 city, 1 module) | $((rss_kb / 1024)) MiB |"
