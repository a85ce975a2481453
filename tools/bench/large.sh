#!/usr/bin/env bash
# runledger on a large ledger, in one command:
#
#   tools/bench/large.sh [--runs N] [--json FILE] [any `runledger bench` option]
#
# Builds runledger (Release; RUNLEDGER_BUILD_DIR picks another build dir),
# then `runledger bench --scenario large`: starts `runledger serve` on a temp
# data dir, fills it with N runs (default 100,000, ~17 events each, so
# ~1.7M events) by bulk NDJSON ingest, measures the read mix (GET run,
# filtered Activity pages, run events, logs) at full throughput and at half
# of it (open loop, p99), stops the server, and times `runledger verify` and
# `runledger rebuild` on the data dir. Needs ~3 GB of disk in $TMPDIR and a
# few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/setup.sh
build_dir=${RUNLEDGER_BUILD_DIR:-build/release}
if [ "$build_dir" = build/release ]; then
  cmake --preset release >/dev/null
elif [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$build_dir" --target runledger
exec "$build_dir/tools/runledger" bench --scenario large "$@"
