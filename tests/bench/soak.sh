#!/usr/bin/env bash
# Soak: the gateway with a seeded city under 70% of its measured maximum ListArticles rate, plus
# a trickle of durable writes, for MINUTES (default 10). Reports RSS at start and end, the growth,
# the growth in the last third (the plateau check: < 1 % of RSS) from its first to its last sample
# and by the least-squares trend of all its samples, RSS every 30 s, and every error
# (failed streams, responses of the wrong size, failed writes).
# The storage's block cache (memtables included) is BLOCK_CACHE_MB (default 16): bounded caches
# that fill within the first minutes, so the last third shows whether anything else grows. With
# the production default (64 MiB) the writes of an hour do not fill it.
#   tests/bench/soak.sh [BUILD_DIR] [MINUTES]     (BLOCK_CACHE_MB=64 for the default)
set -euo pipefail
build=$(realpath "${1:-build-release}")
minutes=${2:-10}
clients=16 streams=8
source "$(dirname "$0")/common.sh"
dev_keys "$build"
cat > "$dir/gateway.yaml" <<YAML
data_dir: $dir/data
module_dir: $build/lib/civitas/modules
auth: {jwks_file: $dir/keys/dev-jwks.json}
logging: {level: warning, access_log: false}
storage: {block_cache_mb: ${BLOCK_CACHE_MB:-16}}
limits: {write_rate: {per_subject: {per_minute: 0}, anonymous_per_peer: {per_minute: 0}}}
cities:
  - id: bench
    modules: [{id: civitas.news}, {id: civitas.events}, {id: civitas.participation}]
YAML
"$build/bin/civitas-gateway" --config "$dir/gateway.yaml" --listen 127.0.0.1:0 \
  --port_file "$dir/gw.port" --http_listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 2>"$dir/gateway.log" &
gw=$!; pids+=($gw)
port=$(wait_port "$dir/gw.port")
mkdir -p "$dir/rows"
"$build/bin/bench_client" seed --target "127.0.0.1:$port" --key "$dir/keys/dev-signing-key.pem" \
  --out "$dir/rows"
body="$dir/rows/list_articles.bin" size=$(cat "$dir/rows/list_articles.size")
url="http://127.0.0.1:$port$(cat "$dir/rows/list_articles.path")"
h=(-H 'content-type: application/grpc' -H 'te: trailers' -H 'x-civitas-city: bench')
max=$(h2load -n 30000 -c "$clients" -m "$streams" -d "$body" "${h[@]}" "$url" |
      grep -oP 'finished in [0-9.]+m?s, \K[0-9.]+')
rate=$(awk -v m="$max" -v c="$clients" 'BEGIN{printf "%d", 0.7*m/c}')
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }
rss_start=$(rss)
echo "max ${max} req/s; soaking ${minutes} min at 70% ($((rate * clients)) req/s) plus durable writes"
# Durable writes alongside (one caller), in one-minute slices.
(for m in $(seq 1 "$minutes"); do  # new users every minute: every support is a new one
   "$build/bin/bench_client" supports --target "127.0.0.1:$port" --key "$dir/keys/dev-signing-key.pem" \
     --ideas "$dir/rows/ideas.txt" --seconds 60 --concurrency 1 --users "minute$m-"
 done > "$dir/writes.txt") &
writer=$!; pids+=($writer)
# Next to RSS, the storage's own memory from /metrics: block cache (memtables included),
# memtables, table readers.
metrics_port=$(sed -n 3p "$dir/gw.port")
storage_mib() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" | awk '/^civitas_block_cache_bytes /{c=$2}
    /^civitas_memtable_bytes/{m+=$2} /^civitas_table_reader_bytes/{t+=$2}
    END {printf "%d/%d/%d", c/1048576, m/1048576, t/1048576}'
}
(while kill -0 $gw 2>/dev/null; do echo "$(date +%s) $(rss) $(storage_mib)"; sleep 30; done \
  > "$dir/rss.txt") &
pids+=($!)
out=$(h2load -D $((minutes * 60)) -c "$clients" -m "$streams" --rps "$rate" -d "$body" "${h[@]}" "$url")
wait $writer || true
rss_end=$(rss)
done_=$(grep -oP 'requests: .* \K[0-9]+(?= done)' <<<"$out")
ok=$(grep -oP 'requests: .* \K[0-9]+(?= succeeded)' <<<"$out")
failed=$(grep -oP 'requests: .* \K[0-9]+(?= failed)' <<<"$out")
data=$(grep -oP 'traffic: .*, [0-9.]+[KMG]?B \(\K[0-9]+(?=\) data)' <<<"$out")
wrong=$(( ok - data / size ))
write_errors=$(awk '{s+=$4} END {print s+0}' "$dir/writes.txt")
writes=$(awk '{s+=$1*60} END {printf "%d", s}' "$dir/writes.txt")
echo
echo "| soak, ${minutes} min | value |"
echo "|---|---:|"
echo "| ListArticles requests (70% of max) | $done_ |"
echo "| failed streams | $failed |"
echo "| responses of the wrong size (gRPC errors) | $wrong |"
echo "| durable SupportIdea writes | $writes |"
echo "| failed writes | $write_errors |"
echo "| RSS at start | $((rss_start / 1024)) MiB |"
echo "| RSS at end | $((rss_end / 1024)) MiB |"
echo "| RSS growth | $(( (rss_end - rss_start) / 1024 )) MiB |"
third=$(awk -v m="$minutes" 'BEGIN{printf "%d", m * 2 / 3 * 2}')  # samples are 30 s apart
echo "| RSS growth in the last third (from sample $third) | $(awk -v t="$third" '{v[NR]=$2} END {a=v[t+1]; b=v[NR]; printf "%.1f MiB (%.1f %% of RSS)", (b-a)/1024, 100*(b-a)/b}' "$dir/rss.txt") |"
# The same span by its trend: a least-squares line through every sample of the last third,
# extended over the span, so that one sample on a crest or in a trough of the allocator's and
# memtables' sawtooth does not decide it.
echo "| RSS trend over the last third (least squares, from sample $third) | $(awk -v t="$third" '
  NR > t {n++; x=$1; y=$2; sx+=x; sy+=y; sxx+=x*x; sxy+=x*y; if (n==1) x0=x; x1=x}
  END {slope=(n*sxy-sx*sy)/(n*sxx-sx*sx); mean=sy/n; g=slope*(x1-x0);
       printf "%+.1f MiB (%+.1f %% of RSS)", g/1024, 100*g/mean}' "$dir/rss.txt") |"
echo "| block cache bound | ${BLOCK_CACHE_MB:-16} MiB |"
echo "| gateway warnings and errors logged | $(grep -c . "$dir/gateway.log" || true) |"
echo
# Every 30 s: does the growth level off once the caches and write buffers are full?
echo "RSS every 30 s (MiB): $(awk '{printf "%d ", $2/1024}' "$dir/rss.txt")"
echo "block cache/memtables/table readers every 30 s (MiB): $(awk '{printf "%s ", $3}' "$dir/rss.txt")"
[ "$failed" = 0 ] && [ "$wrong" = 0 ] && [ "$write_errors" = 0 ]
