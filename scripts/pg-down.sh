#!/usr/bin/env bash
# pg-down.sh DIR: stops a cluster started by pg-up.sh and removes it.
set -euo pipefail
DIR=${1:?usage: pg-down.sh DIR}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
RUN=()
[ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
[ -d "$DIR/data" ] && "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$DIR"
