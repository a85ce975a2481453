#!/usr/bin/env bash
# Soak test (outside CI): runs `runledger serve` at a steady append + read
# rate for --minutes N (default 10) and prints, every 30 s, the append and
# read latency percentiles and the server's RSS, peak RSS and descriptors,
# so one can see whether they stay flat; then stops the server cleanly and
# runs `runledger verify` on the data.
#
#   tools/reliability/soak.sh [--minutes N] [--build DIR] [-- soak_load options]
#
# DIR is a build directory holding tools/runledger and
# tools/reliability/soak_load (default: build/release, else build/dev).
set -euo pipefail

minutes=10
build=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ! [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || awk "BEGIN{exit !($minutes <= 0 || $minutes > 24*60)}"; then
  echo "soak.sh: --minutes takes a number of minutes between 0 and 1440" >&2
  exit 2
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
if [[ -z "$build" ]]; then
  for candidate in "$root/build/release" "$root/build/dev"; do
    if [[ -x "$candidate/tools/reliability/soak_load" ]]; then build="$candidate"; break; fi
  done
fi
if [[ -z "$build" || ! -x "$build/tools/reliability/soak_load" || ! -x "$build/tools/runledger" ]]; then
  echo "soak.sh: build first (cmake --preset release && cmake --build build/release), or pass --build DIR" >&2
  exit 2
fi

echo "soak: $(nproc) cores, $(uname -sr), build $build, started $(date -u +%FT%TZ)"
exec "$build/tools/reliability/soak_load" --server "$build/tools/runledger" --minutes "$minutes" \
  --interval-seconds 30 "${extra[@]}"
