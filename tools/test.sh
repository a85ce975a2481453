#!/usr/bin/env bash
# Sets everything up, builds (Release) and runs every test with ctest.
# RUNLEDGER_ASAN=1 also builds and runs the suite under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --with-browser
if [ -f tests/browser/package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release --output-on-failure -j "$jobs"
if [ "${RUNLEDGER_ASAN:-0}" = 1 ]; then
  cmake --preset asan >/dev/null
  cmake --build build/asan -j "$jobs"
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -E '^browser\.'
fi
