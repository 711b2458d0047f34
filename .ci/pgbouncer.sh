#!/usr/bin/env bash
# Runs the test suite through a local PgBouncer in transaction mode (like Neon's pooled
# endpoint), with DATABASE_POOL_MODE=transaction, to prove the app works behind one.
#
#   .ci/pgbouncer.sh [pytest args]        e.g. .ci/pgbouncer.sh tests/tasks
#
# Needs Debian's pgbouncer and a PostgreSQL that trusts `postgres` on 127.0.0.1:5432.
# Environment: PGBOUNCER_PORT (6432), PGBOUNCER_DATABASE (todo_pgbouncer), PYTHON (.venv).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${PGBOUNCER_PORT:-6432}"
DATABASE="${PGBOUNCER_DATABASE:-todo_pgbouncer}"
PYTHON="${PYTHON:-.venv/bin/python}"
PGBOUNCER="${PGBOUNCER:-/usr/sbin/pgbouncer}"
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=5432

workdir="$(mktemp -d)"
chmod 755 "$workdir"

stop_pgbouncer() {
    if [[ -f "$workdir/pgbouncer.pid" ]]; then
        kill "$(cat "$workdir/pgbouncer.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [[ -f "$workdir/pgbouncer.pid" ]] || break; sleep 0.1; done
    fi
    # The test database is kept between runs by --reuse-db below; drop it directly.
    dropdb --if-exists -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U postgres "test_$DATABASE" || true
    rm -rf "$workdir"
}
trap stop_pgbouncer EXIT

cat > "$workdir/userlist.txt" <<USERS
"postgres" ""
USERS
cat > "$workdir/pgbouncer.ini" <<INI
[databases]
* = host=$POSTGRES_HOST port=$POSTGRES_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $workdir/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
ignore_startup_parameters = extra_float_digits,options
logfile = $workdir/pgbouncer.log
pidfile = $workdir/pgbouncer.pid
INI

# PgBouncer refuses to run as root; -u drops to the postgres user.
if [[ "$(id -u)" == 0 ]]; then
    chown -R postgres "$workdir"
    "$PGBOUNCER" -d -u postgres "$workdir/pgbouncer.ini"
else
    "$PGBOUNCER" -d "$workdir/pgbouncer.ini"
fi
for _ in $(seq 50); do
    pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.1
done
pg_isready -h 127.0.0.1 -p "$PORT"

# A database dropped while PgBouncer holds server connections to it would fail, so
# pytest-django keeps it (--reuse-db) and the exit trap drops it after PgBouncer stops.
DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/$DATABASE" \
DATABASE_POOL_MODE=transaction \
    "$PYTHON" -m pytest -q -p no:cacheprovider --reuse-db "${@:-tests}"
