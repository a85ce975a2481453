#!/usr/bin/env bash
# Sets everything up, builds (Release) and runs every test with ctest.
# Then every libFuzzer target for RUNLEDGER_FUZZ_SECONDS (default 15) each,
# under ASan+UBSan (fuzz/run.sh; 0 skips it).
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
fuzz_seconds=${RUNLEDGER_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then
  fuzz/run.sh "$fuzz_seconds"
fi
if [ "${RUNLEDGER_ASAN:-0}" = 1 ]; then
  cmake --preset asan >/dev/null
  cmake --build build/asan -j "$jobs"
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -E '^browser\.'
fi
