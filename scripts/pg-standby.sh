#!/usr/bin/env bash
# Starts (or stops) a streaming replica of the cluster scripts/with-postgres.sh
# runs, for the tests that read from a replica:
#   bash scripts/pg-standby.sh start DIR PORT   # pg_basebackup -R, then pg_ctl start
#   bash scripts/pg-standby.sh stop DIR
# DIR is an empty directory; the replica listens only on a socket in it.
set -euo pipefail
: "${AIBOMDB_TEST_PG_BIN:?run under scripts/with-postgres.sh}"
bin="$AIBOMDB_TEST_PG_BIN"
action="$1" dir="$2"
as_owner=()
if [ "$(id -u)" = 0 ]; then
    as_owner=(runuser -u postgres --)
fi
case "$action" in
start)
    port="$3"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/pg_basebackup" -h "$AIBOMDB_TEST_PG_SOCKET" -p "$AIBOMDB_TEST_PG_PORT" \
        -U aibomdb -D "$dir/data" -R -X stream --checkpoint=fast >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-k $dir -c listen_addresses='' -p $port -c hot_standby=on -c jit=off -c max_connections=200" start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    chmod 755 "$dir"
    ;;
stop)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
esac
