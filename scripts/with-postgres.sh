#!/usr/bin/env bash
# Run a command with TAILORCRM_TEST_POSTGRES_URL pointing at a PostgreSQL server.
# Uses the URL already set if there is one; otherwise starts a throwaway cluster on a free
# loopback port (as the `postgres` user when run as root), and stops it afterwards.
set -euo pipefail
if [ -n "${TAILORCRM_TEST_POSTGRES_URL:-}" ]; then exec "$@"; fi
PGBIN=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && PGBIN="$d"; done
if [ -z "$PGBIN" ]; then
  echo "with-postgres: no PostgreSQL server installed; PostgreSQL tests will be skipped" >&2
  exec "$@"
fi
PORT=${TAILORCRM_TEST_PG_PORT:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
DIR=$(mktemp -d /tmp/tailorcrm-pg.XXXXXX)
RUN=()
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
  chown postgres "$DIR"
  RUN=(runuser -u postgres --)
fi
"${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -U tailorcrm --auth=trust -E UTF8 >/dev/null
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
cleanup() { "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U tailorcrm tailorcrm_test
export TAILORCRM_TEST_POSTGRES_URL="postgresql+psycopg://tailorcrm@127.0.0.1:$PORT/tailorcrm_test"
echo "with-postgres: PostgreSQL $($PGBIN/postgres --version | awk '{print $3}') on port $PORT" >&2
"$@"
