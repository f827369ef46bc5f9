#!/usr/bin/env bash
# pg-up.sh: starts a throwaway PostgreSQL 15 cluster from Debian's package
# in a temp dir on a loopback port. Prints the dir (for pg-down.sh) and the
# DSN on two lines. Env: PGPORT (default 55432), PG_FAST=1 turns fsync off
# (tests: durability is not what they check).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${PGPORT:-55432}
DIR=$(mktemp -d -t suanli-pg.XXXXXX)
RUN=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root.
  chown postgres:postgres "$DIR"
  RUN=(runuser -u postgres --)
fi
"${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -U suanli --auth=trust -E UTF8 --no-locale --no-sync >"$DIR/initdb.log"
OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=400"
if [ "${PG_FAST:-0}" = 1 ]; then
  OPTS="$OPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/pg.log" -w -t 30 -o "$OPTS" start >/dev/null
echo "$DIR"
echo "postgres://suanli@127.0.0.1:$PORT/postgres?sslmode=disable"
