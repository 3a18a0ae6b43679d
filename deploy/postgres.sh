#!/usr/bin/env bash
# The PostgreSQL service: on first start creates the cluster, the study database owned by
# $POSTGRES_USER (the launcher's role: it writes), and $DASHBOARD_DB_USER, a read-only role (the
# dashboard's: pg_read_all_data, read-only transactions, no CREATE anywhere); then runs postgres
# in the foreground. Used by docker-compose.yml (service postgres) and by the local-process tests.
#
#   deploy/postgres.sh           # run (initialises $PGDATA when empty)
#   deploy/postgres.sh health    # exit 0 when the server accepts TCP connections (healthcheck)
#
# Env: PGDATA (/var/lib/postgresql/data), PGPORT (5432), PG_LISTEN ('*'), PG_SOCKET_DIR
# (/var/run/postgresql), POSTGRES_USER (carousel), POSTGRES_DB (carousel), POSTGRES_PASSWORD,
# DASHBOARD_DB_USER (carousel_reader), DASHBOARD_DB_PASSWORD: both passwords are required on first
# start and never have defaults. The superuser "postgres" has no password: local socket, peer only.
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGPORT=${PGPORT:-5432}
PG_LISTEN=${PG_LISTEN:-*}
SOCK=${PG_SOCKET_DIR:-/var/run/postgresql}

if ! command -v initdb >/dev/null; then  # Debian keeps the server binaries off PATH
  PATH="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1):$PATH"
fi

if [ "${1:-}" = health ]; then
  exec pg_isready -q -h 127.0.0.1 -p "$PGPORT"
fi

if [ "$(id -u)" = 0 ]; then  # postgres refuses to run as root: hand the folders over, re-exec
  mkdir -p "$PGDATA" "$SOCK"
  chown postgres "$PGDATA" "$SOCK"
  chmod 700 "$PGDATA"
  exec runuser -u postgres -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=carousel}" "${POSTGRES_DB:=carousel}" "${DASHBOARD_DB_USER:=carousel_reader}"
  for v in POSTGRES_PASSWORD DASHBOARD_DB_PASSWORD; do
    if [ -z "${!v:-}" ]; then
      echo "postgres.sh: $v is not set (copy .env.example to .env and set it)" >&2
      exit 1
    fi
  done
  export POSTGRES_USER POSTGRES_DB DASHBOARD_DB_USER POSTGRES_PASSWORD DASHBOARD_DB_PASSWORD
  echo "postgres.sh: initialising $PGDATA (database $POSTGRES_DB, roles $POSTGRES_USER, $DASHBOARD_DB_USER)"
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C --auth-local=peer \
    --auth-host=scram-sha-256 >/dev/null
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
    >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -k $SOCK -p $PGPORT" start
  psql -q -h "$SOCK" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
\getenv owner POSTGRES_USER
\getenv owner_pw POSTGRES_PASSWORD
\getenv db POSTGRES_DB
\getenv reader DASHBOARD_DB_USER
\getenv reader_pw DASHBOARD_DB_PASSWORD
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_pw';
CREATE DATABASE :"db" OWNER :"owner";
CREATE ROLE :"reader" LOGIN PASSWORD :'reader_pw';
GRANT pg_read_all_data TO :"reader";
ALTER ROLE :"reader" SET default_transaction_read_only = on;
SQL
  pg_ctl -D "$PGDATA" -w -s -m fast stop
fi
exec postgres -D "$PGDATA" -p "$PGPORT" -k "$SOCK" -c listen_addresses="$PG_LISTEN"
