# What the benchmark scripts share; sourced after `set -euo pipefail`.
#   dir        a temporary folder, removed on exit with every process whose pid is in `pids`
#   wait_port FILE          the first line of a port file once the server wrote it (30 s at most)
#   dev_keys BUILD          a development key pair in $dir/keys (dev-signing-key.pem,
#                           dev-jwks.json): the gateway writes one when it starts without a config
#   write_doc_section NAME REPORT   REPORT (a file) replaces the text between the markers
#                           "<!-- NAME: latest run begin/end -->" in docs/performance.md
#                           (WRITE_DOC=0: print only)
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
wait_port() {
  for _ in $(seq 1 6000); do [ -s "$1" ] && { head -1 "$1"; return; }; sleep 0.005; done
  echo "server did not start" >&2; exit 1
}
dev_keys() {
  "$1/bin/civitas-gateway" --data_dir "$dir/keys" --listen 127.0.0.1:0 --http_listen 127.0.0.1:0 \
    --metrics_listen 127.0.0.1:0 --port_file "$dir/keys.port" --log_level error >/dev/null 2>&1 &
  pids+=($!); wait_port "$dir/keys.port" >/dev/null; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}
write_doc_section() {
  [ "${WRITE_DOC:-1}" = 1 ] || return 0
  /usr/bin/python3 - "$(dirname "${BASH_SOURCE[0]}")/../../docs/performance.md" "$1" "$2" <<'PY'
import sys
doc, name, report = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip()
begin, end = f"<!-- {name}: latest run begin -->", f"<!-- {name}: latest run end -->"
text = open(doc).read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + begin + "\n" + report + "\n" + end + rest.split(end, 1)[1]
    open(doc, "w").write(text)
    print("written to", doc)
else:
    print("markers missing in", doc, "- table not written", file=sys.stderr)
PY
}
