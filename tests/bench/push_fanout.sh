#!/usr/bin/env bash
# The push fan-out benchmark (push issue): one message to DEVICES registered Web Push devices
# (default 100,000) against the local Web Push receiver (tests/push/receiver.js: HTTPS, HTTP/2),
# encryption included (RFC 8291: a new P-256 key pair and ECDH per delivery). In one run:
#   1. the receiver's raw accept rate from h2load, in the gateway's shape (CONNECTIONS
#      connections, one request in flight each) and with 16 streams per connection: the
#      baseline, measured with the same receiver settings;
#   2. the gateway (durability sync, the push workers' defaults but CONNECTIONS) with the
#      devices registered by `bench_client push-devices` (x-real-ip: a new client address every
#      5 registrations, which the config trusts), then `bench_client push-send`: SendMessage and
#      GetMessage polls until nothing is pending.
# Prints deliveries/s (from SendMessage to the last delivery, and the receiver's window from
# its first to its last push), the gateway's CPU per delivery (utime+stime of /proc/<pid>/stat
# over the fan-out), the ratio to the receiver's raw rate, and checks that every device got the
# message exactly once and that the receiver's sample of pushes decrypts (http_ece) and their
# VAPID JWTs verify.
#   tests/bench/push_fanout.sh [BUILD_DIR] [DEVICES]
#     CONNECTIONS=N     push.web_push_connections (default 16, the gateway's default)
#     DECRYPT_EVERY=N   the receiver decrypts and verifies every Nth push (default 50)
#     PERF=FILE         `perf record -g` of the gateway during the fan-out into FILE
# The report also replaces the latest run in docs/performance.md (WRITE_DOC=0: print only).
set -euo pipefail
build=$(realpath "${1:-build-release}")
repo=$(realpath "$(dirname "$0")/../..")
devices=${2:-100000}
connections=${CONNECTIONS:-16}
decrypt_every=${DECRYPT_EVERY:-50}
command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client"; exit 1; }
[ -d "$repo/tests/push/node_modules/http_ece" ] || { echo "run make tools (tests/push)"; exit 1; }

source "$(dirname "$0")/common.sh"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of a process
# Busy ticks of the whole machine (user, nice, system, irq, softirq, steal), for the others' share.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
tck=$(getconf CLK_TCK)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# A receiver: counts only (no line per push), every DECRYPT_EVERY-th push decrypted; a fresh one
# for the baseline and for the fan-out, so that its counts and first/last times are of one each.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
start_receiver() {  # start_receiver NAME -> sets receiver, rport, p256dh, auth
  mkdir -p "$dir/$1"
  RECEIVER_RECORD=counts RECEIVER_DECRYPT_EVERY=$decrypt_every \
    node "$repo/tests/push/receiver.js" "$dir/cert.pem" "$dir/key.pem" "$dir/$1" \
    >"$dir/$1.log" 2>&1 &
  receiver=$!; pids+=($receiver)
  wait_port "$dir/$1/subscription.json" >/dev/null
  read -r rport p256dh auth < <(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["port"], s["p256dh"], s["auth"])' "$dir/$1/subscription.json")
}
stats() { curl -sf --http2 --cacert "$dir/cert.pem" "https://127.0.0.1:$rport/stats${1:-}"; }

# 1. The baseline: h2load posting a body of a push's size (300 bytes) with the push headers.
start_receiver baseline
head -c 300 /dev/urandom > "$dir/body.bin"
h2() {  # h2 CONNECTIONS STREAMS REQUESTS -> req/s; every answer must be a 201
  local out rps ok
  out=$(h2load -n "$3" -c "$1" -m "$2" -d "$dir/body.bin" -H 'content-encoding: aes128gcm' \
        -H 'ttl: 86400' -H 'urgency: high' "https://127.0.0.1:$rport/push/h2load")
  rps=$(grep -oP 'finished in [0-9.]+m?s, \K[0-9.]+' <<<"$out")
  ok=$(grep -oP 'status codes: \K[0-9]+(?= 2xx)' <<<"$out")
  [ "$ok" = "$3" ] || { echo "receiver baseline: $ok of $3 answers were 2xx" >&2; echo "$out" >&2; exit 1; }
  echo "$rps"
}
h2 "$connections" 1 2000 >/dev/null  # warm-up
raw_shape=$(h2 "$connections" 1 20000)
raw_max=$(h2 "$connections" 16 20000)
kill "$receiver"; wait "$receiver" 2>/dev/null || true

# 2. The gateway.
cat > "$dir/gateway.yaml" <<YAML
data_dir: $dir/data
auth: {jwks_file: $dir/jwks.json}
logging: {level: error, access_log: false}
# Registrations come from loopback with x-real-ip: a new client address every 5 (the burst).
limits: {write_rate: {client_ip_header: x-real-ip}}
push: {web_push_connections: $connections}
cities:
  - id: bench
    push:
      allow_loopback: true
      ca_file: $dir/cert.pem
      vapid_subject: "mailto:push@bench.example"
      topics:
        - id: alle
          titles: {de: "Alle Meldungen"}
YAML
dev_keys "$build"
cp "$dir/keys/dev-jwks.json" "$dir/jwks.json"
key="$dir/keys/dev-signing-key.pem"
start_receiver fanout
"$build/bin/civitas-gateway" --config "$dir/gateway.yaml" --listen 127.0.0.1:0 \
  --port_file "$dir/gw.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
  >"$dir/gateway.log" 2>&1 &
gw=$!; pids+=($gw)
port=$(wait_port "$dir/gw.port")
read -r _ reg_s reg_rate < <("$build/bin/bench_client" push-devices --target "127.0.0.1:$port" \
  --endpoint "https://127.0.0.1:$rport/push/fan-" --p256dh "$p256dh" --auth "$auth" \
  --count "$devices" --concurrency 32)

if [ -n "${PERF:-}" ]; then
  perf record -F 499 -g -p "$gw" -o "$PERF" >/dev/null 2>&1 &
  perf_pid=$!; sleep 0.5
fi
stats > "$dir/before.json"; cpu0=$(cpu_ticks $gw); rcpu0=$(cpu_ticks $receiver); busy0=$(busy_ticks)
read -r message queued delivered not_delivered send_s send_rate < <("$build/bin/bench_client" \
  push-send --target "127.0.0.1:$port" --key "$key" --timeout_s 900)
cpu1=$(cpu_ticks $gw); rcpu1=$(cpu_ticks $receiver); busy1=$(busy_ticks)
if [ -n "${PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
stats '?paths=1' > "$dir/stats.json"
kill $gw; wait $gw 2>/dev/null || true

# Every device exactly once; the sample decrypts to the message, its VAPID verifies.
read -r once missing dups window_s sampled matching dfail vfail jwts conns < <(/usr/bin/python3 - \
    "$dir/stats.json" "$devices" "$message" "$dir/before.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2]); message = sys.argv[3]
before = json.load(open(sys.argv[4]))
counts = [s["by_path"].get(f"/push/fan-{i}", 0) for i in range(n)]
matching = sum(c for t, c in s["plaintexts"].items() if message in t)
print(sum(c == 1 for c in counts), sum(c == 0 for c in counts), sum(max(0, c - 1) for c in counts),
      (s["last_ms"] - s["first_ms"]) / 1000.0, s["decrypted"], matching, s["decrypt_failures"],
      s["vapid_failures"], s["distinct_jwts"],
      s["connections"] - before["connections"] - 1)  # less the /stats call's own
PY
)
if [ "$missing" != 0 ] || [ "$dups" != 0 ] || [ "$dfail" != 0 ] || [ "$vfail" != 0 ] ||
   [ "$matching" != "$sampled" ] || [ "$delivered" != "$devices" ]; then
  echo "fan-out check failed: delivered=$delivered missing=$missing duplicates=$dups" \
       "decrypt_failures=$dfail vapid_failures=$vfail sampled=$sampled matching=$matching" >&2
  exit 1
fi
cpu_ms=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$tck" 'BEGIN{printf "%.0f", (b-a)*1000/t}')
rcpu_ms=$(awk -v a="$rcpu0" -v b="$rcpu1" -v t="$tck" 'BEGIN{printf "%.0f", (b-a)*1000/t}')
# What the rest of the machine used meanwhile (other people's builds, the benchmark's client).
others_cores=$(awk -v b0="$busy0" -v b1="$busy1" -v g="$((cpu1 - cpu0))" -v r="$((rcpu1 - rcpu0))" \
  -v t="$tck" -v s="$send_s" 'BEGIN{printf "%.2f", ((b1-b0) - g - r) / t / s}')
window_rate=$(awk -v n="$devices" -v w="$window_s" 'BEGIN{printf "%.0f", n/w}')

report() {
echo "Run of $(date -u '+%Y-%m-%d %H:%M') UTC at commit $(git -C "$repo" log -1 --format='%h' 2>/dev/null || echo unknown) ($(git -C "$repo" log -1 --format='%s' 2>/dev/null | cut -c1-60)…)$(git -C "$repo" diff --quiet HEAD -- . ':!docs' 2>/dev/null || echo ', with uncommitted changes')"
echo
echo "build: $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || echo unknown) ($build)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average at start $load_start, at the end $load_end"
echo "gateway: web_push_connections $connections, durability sync; receiver: node $(node --version), decrypts every ${decrypt_every}th push"
echo
echo "| measure | value |"
echo "|---|---:|"
echo "| devices registered (push-devices, 32 callers) | $devices in ${reg_s} s ($reg_rate/s) |"
echo "| **fan-out, SendMessage to nothing pending** | **${send_s} s, $send_rate deliveries/s** |"
echo "| fan-out, the receiver's first to last push | ${window_s} s, $window_rate deliveries/s |"
echo "| gateway CPU over the fan-out (utime+stime) | $cpu_ms ms, $(awk -v c="$cpu_ms" -v n="$devices" 'BEGIN{printf "%.3f", c/n}') ms per delivery |"
echo "| receiver CPU over the fan-out | $rcpu_ms ms, $(awk -v c="$rcpu_ms" -v n="$devices" 'BEGIN{printf "%.3f", c/n}') ms per push |"
echo "| CPU of everything else on the machine over the fan-out (others' builds, bench_client) | $others_cores of $(nproc) cores |"
echo "| receiver raw accept rate, h2load ${connections}×1 streams (the gateway's shape) | $(printf '%.0f' "$raw_shape") req/s |"
echo "| receiver raw accept rate, h2load ${connections}×16 streams | $(printf '%.0f' "$raw_max") req/s |"
echo "| fan-out ÷ raw rate in the same shape | $(awk -v a="$send_rate" -v b="$raw_shape" 'BEGIN{printf "%.2f", a/b}') |"
echo "| every device exactly once / decrypted sample / VAPID JWTs signed / TLS connections | $once of $devices / $matching of $sampled / $jwts / $conns |"
}
report | tee "$dir/report.md"
write_doc_section push_fanout.sh "$dir/report.md"
