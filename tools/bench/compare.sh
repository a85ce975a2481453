#!/usr/bin/env bash
# runledger beside raw RocksDB and PostgreSQL, in one command (SPEC section 8):
#
#   tools/bench/compare.sh [--json FILE] [any `runledger bench` option]
#
# 1. installs what is missing (tools/setup.sh; postgresql-15 and libpq-dev),
# 2. builds runledger (Release; RUNLEDGER_BUILD_DIR picks another build dir),
# 3. starts a throwaway PostgreSQL 15 on 127.0.0.1 in a temp dir
#    (initdb + pg_ctl; as the `postgres` user when run as root, because
#    initdb and postgres refuse root; trust auth on loopback only;
#    synchronous_commit=on, fsync=on),
# 4. runs `runledger bench --scenario compare --pg ...`, which starts its own
#    `runledger serve` on a free loopback port with a temp data dir, and
#    prints the table, the ratios and the goals,
# 5. stops PostgreSQL and removes the temp dir.
#
# About 80 s of measurement with the defaults (8 figures of 1 + 10 s), plus
# the build when sources changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/setup.sh
missing=()
for p in postgresql-15 libpq-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "compare: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The Debian package starts a cluster on 5432; this script does not use it.
fi

build_dir=${RUNLEDGER_BUILD_DIR:-build/release}
if [ "$build_dir" = build/release ]; then
  cmake --preset release >/dev/null
elif [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$build_dir" --target runledger
runledger=$(pwd)/$build_dir/tools/runledger

pg_bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/runledger-compare-XXXXXX")
chmod 755 "$work"
pgdata=$work/pg
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)
  install -d -o postgres -g postgres -m 700 "$pgdata"
else
  install -d -m 700 "$pgdata"
fi
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale >"$work/initdb.log"
# Durable commits as PostgreSQL ships them (fsync, synchronous_commit,
# full_page_writes on); room enough that no checkpoint lands in a 10 s figure.
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w start -o \
  "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pgdata \
   -c synchronous_commit=on -c fsync=on -c full_page_writes=on \
   -c shared_buffers=256MB -c max_wal_size=4GB -c max_connections=200" >/dev/null
pg_pid=$(head -1 "$pgdata/postmaster.pid")
echo "compare: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (pid $pg_pid), data in $pgdata"

"$runledger" bench --scenario compare --dir "$work/bench" \
  --pg "host=127.0.0.1 port=$port user=postgres dbname=postgres" --pg-pid "$pg_pid" "$@"
