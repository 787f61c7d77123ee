#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: initdb and pg_ctl in a
# temporary directory, listening only on a Unix socket there, stopped and
# removed when the command ends. The command finds the cluster in
# AIBOMDB_TEST_DB_URL (a superuser URL; tests create a database each).
#   bash scripts/with-postgres.sh cargo test --workspace
set -euo pipefail

bin=""
for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && bin="$dir"
done
if [ -z "$bin" ]; then
    command -v initdb >/dev/null || {
        echo "with-postgres.sh: no PostgreSQL server here (Debian: apt-get install postgresql)" >&2
        exit 2
    }
    bin="$(dirname "$(command -v initdb)")"
fi

# The cluster's owner must reach its directory: TMPDIR (default /tmp) must
# be open to the postgres user when this runs as root.
tmp="$(mktemp -d)"
# initdb refuses to run as root: the cluster then belongs to `postgres`.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$tmp"
    as_owner=(runuser -u postgres --)
fi
port=54315
stop() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$tmp/data" -U aibomdb -A trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 || {
    cat "$tmp/initdb.log" >&2
    exit 1
}
"${as_owner[@]}" "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w \
    -o "-k $tmp -c listen_addresses='' -p $port -c jit=off -c max_connections=200 -c fsync=off" start >/dev/null || {
    cat "$tmp/server.log" >&2
    exit 1
}
# The directory is the owner's; the tests (root or not) reach the socket.
chmod 755 "$tmp"
export AIBOMDB_TEST_DB_URL="postgresql://aibomdb@/postgres?host=$tmp&port=$port"
export AIBOMDB_TEST_PSQL="$(command -v psql || echo "$bin/psql")"
# For tests that start servers of their own (scripts/pg-node.sh).
export AIBOMDB_TEST_PG_BIN="$bin" AIBOMDB_TEST_PG_SOCKET="$tmp" AIBOMDB_TEST_PG_PORT="$port"
"$@"
