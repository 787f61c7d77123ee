#!/usr/bin/env bash
# Times `aibomdb ingest` of one directory with several builds, back to back,
# into redb files and into new databases on a PostgreSQL server of its own
# (scripts/pg-node.sh primary, fsync on). Run under scripts/with-postgres.sh:
#   bash scripts/with-postgres.sh bash scripts/ingest-timing.sh DIR RUNS BINARY...
set -euo pipefail
: "${AIBOMDB_TEST_PG_BIN:?run under scripts/with-postgres.sh}"
dir="$1" runs="$2"
shift 2
here="$(cd "$(dirname "$0")" && pwd)"
node="$(mktemp -d)"
port=54397
bash "$here/pg-node.sh" primary "$node" "$port"
work="$(mktemp -d)"
trap 'bash "$here/pg-node.sh" stop "$node"; rm -rf "$work"' EXIT
admin="postgresql://aibomdb@/postgres?host=$node&port=$port"
psql="${AIBOMDB_TEST_PSQL:-psql}"
echo "$(du -shL "$dir" | cut -f1) in $dir; $runs run(s) of each build, back to back"
for run in $(seq "$runs"); do
    for binary in "$@"; do
        rm -f "$work/s.redb"
        /usr/bin/time -f "run $run redb       %e s wall, %U s user, %S s sys, %M KB peak: $binary" \
            "$binary" --db "$work/s.redb" ingest "$dir" ${AIBOMDB_TIMING_ARGS:-} >/dev/null
        "$psql" "$admin" -qc "CREATE DATABASE timing" >/dev/null
        /usr/bin/time -f "run $run postgresql %e s wall, %U s user, %S s sys, %M KB peak: $binary" \
            "$binary" --db "postgresql://aibomdb@/timing?host=$node&port=$port" ingest "$dir" ${AIBOMDB_TIMING_ARGS:-} >/dev/null
        "$psql" "$admin" -qc "DROP DATABASE timing" >/dev/null
    done
done
