#!/usr/bin/env bash
# Sets everything up, builds (Release) and runs the service on its embedded
# default: RocksDB in ./data, listening on 127.0.0.1:8080. Extra arguments go
# to `runledger serve` (e.g. --tokens tokens.json).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake --preset release >/dev/null
cmake --build build/release --target runledger
exec build/release/tools/runledger serve --data ./data --listen 127.0.0.1:8080 "$@"
