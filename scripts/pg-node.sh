#!/usr/bin/env bash
# PostgreSQL servers of their own, for the tests that need more than the
# shared cluster scripts/with-postgres.sh runs (a replica, a server to crash):
#   bash scripts/pg-node.sh primary DIR PORT   # initdb, then start (AIBOMDB_PG_SETTINGS: more -c settings)
#   bash scripts/pg-node.sh tls DIR PORT       # as primary, also on 127.0.0.1:PORT, TCP over TLS only
#   bash scripts/pg-node.sh standby DIR PORT   # streaming replica of the shared cluster (pg_basebackup -R)
#   bash scripts/pg-node.sh start DIR PORT     # start again after a stop or a crash
#   bash scripts/pg-node.sh crash DIR          # kill -9 the postmaster and every backend
#   bash scripts/pg-node.sh stop DIR
# DIR is an empty directory; the server listens only on a socket in it (and,
# for `tls`, on 127.0.0.1 with a certificate for `localhost` signed by
# DIR/ca.crt; DIR/other-ca.crt is a CA that signed nothing there).
set -euo pipefail
: "${AIBOMDB_TEST_PG_BIN:?run under scripts/with-postgres.sh}"
bin="$AIBOMDB_TEST_PG_BIN"
action="$1" dir="$2" port="${3:-}"
as_owner=()
if [ "$(id -u)" = 0 ]; then
    as_owner=(runuser -u postgres --)
fi
start() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-k $dir -c listen_addresses='' -p $port -c jit=off -c max_connections=200 $*" start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    chmod 755 "$dir"
}
case "$action" in
primary)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U aibomdb -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # Extra server settings, e.g. the bulk-load settings of docs/POSTGRES.md.
    # shellcheck disable=SC2086
    start ${AIBOMDB_PG_SETTINGS:-}
    ;;
tls)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U aibomdb -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    (
        cd "$dir"
        for ca in ca other-ca; do
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=aibomdb test $ca" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
                -keyout "$ca.key" -out "$ca.crt" 2>/dev/null
        done
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.crt 2>/dev/null
        chmod 600 server.key
        [ "$(id -u)" = 0 ] && chown postgres: server.key server.crt
        # TCP only over TLS; the socket as before.
        printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n' \
            >data/pg_hba.conf
    )
    start -c listen_addresses=127.0.0.1 -c ssl=on -c "ssl_cert_file=$dir/server.crt" -c "ssl_key_file=$dir/server.key"
    ;;
standby)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/pg_basebackup" -h "$AIBOMDB_TEST_PG_SOCKET" -p "$AIBOMDB_TEST_PG_PORT" \
        -U aibomdb -D "$dir/data" -R -X stream --checkpoint=fast >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    start -c hot_standby=on
    ;;
start)
    start
    ;;
crash)
    pid="$(head -1 "$dir/data/postmaster.pid")"
    # pg_ctl starts the postmaster in a session of its own: the whole
    # process group goes at once, backends and any recovery workers.
    kill -9 -- -"$pid" 2>/dev/null || kill -9 "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || pgrep -g "$pid" >/dev/null || exit 0
        sleep 0.05
    done
    echo "pg-node.sh: the server in $dir did not go within 10 s" >&2
    exit 1
    ;;
stop)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
esac
