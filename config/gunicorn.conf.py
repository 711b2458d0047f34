"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py config.wsgi` (docs/deployment.md).

gunicorn reads this file itself, before Django starts. It loads the settings first, so that
`.env` is read (real environment variables win) and a bad setting stops gunicorn with one
line before any worker starts; its own variables, listed in .env.example with the others, are
then read from the environment.
"""

import os

import gunicorn.http.wsgi

from config.startup import check_database_or_exit, fail, load_settings_or_exit

load_settings_or_exit()


def env(name: str, default: str) -> str:
    """The variable's value; unset and empty (as `.env.example` leaves some) mean default."""
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    """A whole number, or one line naming the variable (not gunicorn's config traceback)."""
    value = env(name, str(default))
    if not value.isdigit():
        fail(f"{name} must be a whole number, not {value!r}.")
    return int(value)


def env_bool(name: str, default: bool) -> bool:
    value = env(name, str(default)).lower()
    if value not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        fail(f"{name} must be true or false, not {value!r}.")
    return value in {"1", "true", "yes", "on"}


bind = env("GUNICORN_BIND", "0.0.0.0:8000")
# gthread measured fastest here (docs/deployment.md); "sync" and
# "uvicorn.workers.UvicornWorker" (with config.asgi) are the alternatives.
worker_class = env("GUNICORN_WORKER_CLASS", "gthread")
workers = env_int("WEB_CONCURRENCY", os.cpu_count() or 1)
threads = env_int("GUNICORN_THREADS", 4)
# A worker silent for this long is killed and replaced; a request should never come close.
timeout = env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM, workers stop accepting and get this long to finish in-flight requests.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
# Each worker listens on its own socket and the kernel spreads connections over them; with
# one shared socket, one busy worker tends to accept nearly every keep-alive connection.
reuse_port = env_bool("GUNICORN_REUSE_PORT", True)
# Off by default: a worker's memory stays flat under a long soak (docs/performance.md), and
# each recycle drops that worker's keep-alive connections onto the others. Set it (with 10 %
# jitter against a stampede) if a leak ever shows.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# The app logs every request itself (with its request id), so gunicorn's access log is off.
accesslog = None
errorlog = "-"
loglevel = env("LOG_LEVEL", "info").lower()
# /tmp may be disk-backed in containers; worker heartbeats belong in memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The runtime control socket (in $HOME) is not used; containers may not even have a $HOME.
control_socket_disable = True
forwarded_allow_ips = env("FORWARDED_ALLOW_IPS", "127.0.0.1")
# A trusted proxy may set X-Forwarded-Proto and -For, never SCRIPT_NAME or PATH_INFO: the app
# is always mounted at /, and a SCRIPT_NAME header was an HTML 500 (a path outside it) or an
# attacker's prefix in every Link URL.
forwarder_headers = ""

# Request size limits: as large as gunicorn allows, so that every query the API documents
# fits (20 tags of 32 CJK characters, percent-encoded, overflowed the default 4094-byte
# request line into an HTML 414). The proxy in front (deploy/nginx/nginx.conf) refuses
# larger requests first, with JSON bodies; gunicorn's own refusals are HTML.
limit_request_line = 8190
limit_request_field_size = 8190
# The proxy bounds the headers' total size (4 x 8 KiB); their count need not refuse earlier.
limit_request_fields = 32768

# gunicorn names itself in a `Server` header on every response; say nothing instead.
gunicorn.http.wsgi.SERVER = ""


def on_starting(server) -> None:
    """An unreachable or missing database stops gunicorn here, in one line, instead of every
    worker failing its first requests. Web Push is optional; off, it is said here once."""
    check_database_or_exit()
    from django.conf import settings

    if not settings.VAPID_PRIVATE_KEY:
        server.log.warning(
            "Web Push is off: VAPID_PRIVATE_KEY is not set, so /api/push/public-key and new "
            "push subscriptions answer 503 (docs/push.md)."
        )
