#!/usr/bin/env bash
# Builds every libFuzzer target under ASan + UBSan (clang, build/fuzz) and
# runs each for SECONDS (default 15) on a copy of its checked-in seed corpus.
# Prints executions and crashes per target; exits non-zero if any target
# crashed, leaked, timed out or did not run. Findings go to
# build/fuzz/findings/<target>/ (crash-*, leak-*, timeout-* inputs).
#
#   fuzz/run.sh            # 15 s per target (what CI runs)
#   fuzz/run.sh 600        # the longer run
#   FUZZ_TARGETS="event_fuzzer ndjson_fuzzer" fuzz/run.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
build=${FUZZ_BUILD_DIR:-build/fuzz}
targets=${FUZZ_TARGETS:-"event_fuzzer canonical_json_fuzzer ndjson_fuzzer query_fuzzer request_fuzzer export_verify_fuzzer"}

# clang and libFuzzer's runtime (Debian 12: clang 14), installed if missing.
has_libfuzzer() {
  command -v clang++ >/dev/null &&
    [ -f "$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]
}
if ! has_libfuzzer; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "fuzz/run.sh: installing clang and libclang-rt-14-dev"
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    clang libclang-rt-14-dev >/dev/null
  has_libfuzzer || { echo "fuzz/run.sh: clang++ with libFuzzer is still missing" >&2; exit 2; }
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
mkdir -p "$build"
CC=clang CXX=clang++ cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRUNLEDGER_FUZZ=ON -DBUILD_TESTING=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 2; }
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $targets >"$build/build.log" 2>&1 ||
  { tail -50 "$build/build.log" >&2; exit 2; }

status=0
printf '%-22s %12s %8s %10s %s\n' target executions exec/s crashes result
for target in $targets; do
  name=${target%_fuzzer}
  work="$build/corpus/$name"
  findings="$build/findings/$name"
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings"
  if [ -d "fuzz/corpus/$name" ]; then cp -r "fuzz/corpus/$name/." "$work/"; fi
  log="$build/findings/$name.log"
  dict=()
  if [ -f "fuzz/dict/$name.dict" ]; then dict=(-dict="fuzz/dict/$name.dict"); fi
  set +e
  "$build/fuzz/$target" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$findings/" \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$findings" -type f | wc -l)
  result=ok
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ -z "$execs" ]; then
    result="FAILED (exit $rc, see $log)"
    status=1
  fi
  printf '%-22s %12s %8s %10s %s\n' "$target" "${execs:-0}" "${rate:-0}" "$crashes" "$result"
done
exit $status
