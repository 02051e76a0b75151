#!/usr/bin/env bash
# A whole state on one gateway: CITIES cities (default 396, the municipalities of North
# Rhine-Westphalia) with the four bundled modules each, on one gateway. Measures, from outside:
# start to SERVING, idle RSS, open descriptors against the limit, the first call to each city
# (p50/p99/max), and a mixed read load over all cities from several client threads (every
# answer checked). Targets (issue "A whole state on one gateway"): SERVING <= 5 s, idle RSS
# <= 1 GiB, no descriptor exhaustion, first-call p99 <= 50 ms.
#   tests/bench/state.sh [BUILD_DIR] [CITIES] [LOAD_SECONDS]
set -euo pipefail
build=$(realpath "${1:-build-release}")
cities=${2:-396}
seconds=${3:-20}
source "$(dirname "$0")/common.sh"
{
  echo "data_dir: $dir/data"
  echo "module_dir: $build/lib/civitas/modules"
  echo "logging: {level: error, access_log: false}"
  echo "cities:"
  for i in $(seq -w 1 "$cities"); do
    echo "  - id: gemeinde$i"
    echo "    modules: [{id: civitas.news}, {id: civitas.events}, {id: civitas.participation}, {id: civitas.reports}]"
  done
} > "$dir/gateway.yaml"

serve() {  # serve: starts the gateway, sets $gw and $serving_ms (start to SERVING)
  rm -f "$dir/gw.port"
  local start_ns
  start_ns=$(date +%s%N)
  "$build/bin/civitas-gateway" --config "$dir/gateway.yaml" --listen 127.0.0.1:0 \
    --port_file "$dir/gw.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
    >>"$dir/gateway.log" 2>&1 &
  gw=$!; pids+=($gw)
  wait_port "$dir/gw.port" >/dev/null
  serving_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
}
stop() { kill "$gw"; wait "$gw" 2>/dev/null || true; }

# First start creates every city's database; the second opens existing ones (a restart).
serve; first_ms=$serving_ms; stop
serve; restart_ms=$serving_ms
sleep 2
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$gw/status")
fds=$(ls "/proc/$gw/fd" | wc -l)
fd_limit=$(awk '/Max open files/ {print $4}' "/proc/$gw/limits")
port=$(head -1 "$dir/gw.port")

/usr/bin/python3 - "$port" "$cities" "$seconds" > "$dir/calls.txt" <<'PY'
import random, sys, threading, time
import grpc
port, cities, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ids = [f"gemeinde{i:0{len(str(cities))}d}" for i in range(1, cities + 1)]
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
methods = ["/civitas.news.v1.NewsService/ListArticles", "/civitas.events.v1.EventsService/ListEvents",
           "/civitas.participation.v1.ParticipationService/ListIdeas",
           "/civitas.reports.v1.ReportsService/ListServices"]
stubs = [channel.unary_unary(m) for m in methods]
def call(city, k):
    # An empty request is a valid List request (defaults); the answer must parse as bytes.
    return stubs[k](b"", metadata=(("x-civitas-city", city),), timeout=10)
call(ids[0], 0)  # the connection, not the city, is what a first call would otherwise time
# The first call to each city (each module instance answers for the first time).
first = []
for city in ids:
    t = time.perf_counter(); call(city, 0); first.append((time.perf_counter() - t) * 1000)
first.sort()
pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
print(f"first {pct(first, 0.5):.2f} {pct(first, 0.99):.2f} {first[-1]:.2f}")
# A mixed load over all cities: 8 threads, random city and module.
stop_at = time.monotonic() + seconds
lock = threading.Lock(); lat = []; errors = []
def worker(seed):
    rnd = random.Random(seed); mine = []
    while time.monotonic() < stop_at:
        t = time.perf_counter()
        try:
            call(rnd.choice(ids), rnd.randrange(4))
        except grpc.RpcError as e:
            with lock: errors.append(f"{e.code()}: {e.details()}")
            continue
        mine.append((time.perf_counter() - t) * 1000)
    with lock: lat.extend(mine)
threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
lat.sort()
print(f"mixed {len(lat) / seconds:.0f} {pct(lat, 0.5):.2f} {pct(lat, 0.99):.2f} {len(errors)}")
for e in sorted(set(errors))[:5]: print("error", e)
PY
read -r _ f50 f99 fmax < <(grep '^first' "$dir/calls.txt")
read -r _ mrps m50 m99 merr < <(grep '^mixed' "$dir/calls.txt")
grep '^error' "$dir/calls.txt" >&2 || true
fds_after=$(ls "/proc/$gw/fd" | wc -l)
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$gw/status")
stop
[ "$merr" = 0 ] || { echo "mixed load: $merr errors" >&2; exit 1; }

echo "Run of $(date -u +%Y-%m-%d) at commit $(git -C "$(dirname "$0")" log -1 --format=%h 2>/dev/null || echo unknown), $(nproc) cores; $cities cities × 4 modules; build $(basename "$build")"
echo
echo "| measure | value | target |"
echo "|---|---:|---:|"
echo "| start to SERVING, databases created | ${first_ms} ms | – |"
echo "| start to SERVING, restart | ${restart_ms} ms | ≤ 5000 ms |"
echo "| idle RSS after start | $((rss_kib / 1024)) MiB | ≤ 1024 MiB |"
echo "| open descriptors idle / after the load (limit) | $fds / $fds_after ($fd_limit) | below the limit |"
echo "| first call to each city, p50 / p99 / max | $f50 / $f99 / $fmax ms | p99 ≤ 50 ms |"
echo "| mixed reads over all cities (Python grpcio, 8 threads, ${seconds} s) | $mrps calls/s, p50 $m50 ms, p99 $m99 ms, 0 errors | – |"
echo "| RSS after the load | $((rss_after / 1024)) MiB | – |"
