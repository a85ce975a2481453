#!/usr/bin/env bash
# GET /v1/export over HTTP, measured: starts `runledger serve` on a data
# directory (local mode, loopback), downloads one export with curl to a file,
# and prints the throughput (MB/s by wall clock, and per second of the
# server's CPU time, which stays meaningful on a busy machine), the server's
# peak RSS (VmHWM) before and after the download, the load average, and then
# `runledger verify-export` of the file.
#
#   tools/bench/http_export.sh RUNLEDGER DATA_DIR [FROM [TO]]
#
# FROM/TO bound recorded_at (RFC 3339, default: everything). A ledger of a
# million events comes from
#   build/release/tools/bench/export_bench --events 1000000 --data DATA_DIR
# The bundle is written to $OUT (default DATA_DIR/http-export.ndjson); the
# server listens on 127.0.0.1:$PORT (default 18087).
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
bin=$1
data=$2
from=${3:-1970-01-01T00:00:00Z}
to=${4:-9999-12-31T00:00:00Z}
port=${PORT:-18087}
out=${OUT:-$data/http-export.ndjson}
base=http://127.0.0.1:$port

"$bin" serve --data "$data" --listen "127.0.0.1:$port" 2>"$data/http-export-serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do  # up to 30 s for RocksDB to open
  curl -sf "$base/healthz" >/dev/null && break
  sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || { echo "the server did not start" >&2; exit 1; }
curl -sf -o "$out.key.pem" "$base/v1/ledger/key"

peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "load average before: $(load)"
echo "server peak RSS before: $(peak_rss_kb) kB"
ticks_before=$(cpu_ticks)
read -r code bytes seconds < <(curl -s -o "$out" -w '%{http_code} %{size_download} %{time_total}\n' \
  "$base/v1/export?from=$from&to=$to")
ticks=$(( $(cpu_ticks) - ticks_before ))
echo "server peak RSS after: $(peak_rss_kb) kB"
echo "load average after: $(load)"
awk -v code="$code" -v b="$bytes" -v s="$seconds" -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  cpu = t / hz
  per_cpu = cpu > 0 ? b / 1e6 / cpu : 0
  printf "HTTP %s: %.1f MB in %.2f s = %.1f MB/s wall; server CPU %.2f s = %.1f MB/s of CPU\n",
         code, b / 1e6, s, b / 1e6 / s, cpu, per_cpu }'
kill "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
if [ "$code" = 200 ]; then
  "$bin" verify-export "$out" --key "$out.key.pem"
else
  head -c 300 "$out"
  echo
fi
