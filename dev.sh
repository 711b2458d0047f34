#!/usr/bin/env bash
# The two commands of the README, on a machine with nothing but Python 3.11+:
#   ./dev.sh serve        install into .venv, migrate, serve on http://127.0.0.1:8000
#                         (HOST=0.0.0.0 for every interface, PORT=8123 for another port),
#                         with a Celery worker and beat beside it for the reminders
#   ./dev.sh test [ARGS]  install into .venv (with test tools), run the whole suite (pytest ARGS)
# and, for everything else:
#   ./dev.sh manage CMD   manage.py CMD in .venv, with DEBUG=true unless DEBUG is set
# serve and manage read .env when present (the tests never do); all use SQLite and the
# local-memory cache unless DATABASE_URL / REDIS_URL are set. A bad setting or a database
# that does not answer stops serve and manage with one line naming it.
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}

install() {
    local requirements=$1 stamp=.venv/.installed-$1
    # Two commands started at once (serve in one shell, test in another) install one at a time
    # (where flock exists: Linux has it, macOS does not).
    exec 9>.venv.lock
    if command -v flock >/dev/null; then flock 9; fi
    if [ ! -x .venv/bin/python ]; then
        "$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
        "$python" -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -r "$requirements"
        touch "$stamp"
    fi
    exec 9>&-
}

case "${1:-}" in
serve)
    install requirements.txt
    # The embedded defaults: development secrets, SQLite and the local-memory cache.
    export DEBUG=${DEBUG:-true}
    .venv/bin/python manage.py migrate --noinput
    # One ASGI process serves everything: the REST API, the live event stream and the admin
    # (production splits them: docs/deployment.md). Django asks ASGI servers not to keep
    # database connections; --reload restarts it when the code changes.
    export DATABASE_CONN_MAX_AGE=${DATABASE_CONN_MAX_AGE:-0}
    # Beside it, one Celery worker with an embedded beat (-B) fires reminders and does the
    # other background work, on the folder broker (.celery/) unless CELERY_BROKER_URL or
    # REDIS_URL names another; production runs worker and beat as processes of their own. It
    # does not reload: restart serve after changing a background task.
    mkdir -p "${CELERY_BROKER_FOLDER:-.celery}"
    .venv/bin/celery -A config worker -B --concurrency=1 --loglevel=WARNING &
    worker=$!
    .venv/bin/uvicorn config.asgi:application --reload --no-access-log \
        --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" &
    server=$!
    # Whichever way serve ends (Ctrl-C, a signal, the server exiting), both stop with it.
    trap 'kill "$server" "$worker" 2>/dev/null || true; wait' EXIT
    trap 'exit 130' INT TERM
    wait "$server"
    ;;
test)
    install requirements-dev.txt
    shift
    exec .venv/bin/python -m pytest "$@"
    ;;
manage)
    install requirements.txt
    shift
    DEBUG=${DEBUG:-true} exec .venv/bin/python manage.py "$@"
    ;;
*)
    echo "usage: ./dev.sh serve | ./dev.sh test [pytest arguments] | ./dev.sh manage COMMAND" >&2
    exit 2
    ;;
esac
