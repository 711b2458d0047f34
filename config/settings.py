"""Every setting of the service, and the only module that reads the environment.

Variables are documented in `.env.example`. A `.env` file beside `manage.py` is read when
present; real environment variables win over it. With `DEBUG` off (the default), the secrets
must be given; with `DEBUG` on, development defaults fill them in.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class Env(environ.Env):
    """django-environ's reader and casts, with this service's rules where they differ.

    - Unset, empty and blank mean the default: `.env.example` leaves optional variables empty.
    - A value that does not parse stops start-up naming the variable, in one line; so does a
      boolean that is neither true nor false (django-environ takes any unknown word as false,
      so `DEBUG=ture` would silently mean production).
    - No `$OTHER_VARIABLE` indirection: a secret that starts with `$` is taken as it is.
    - List items are stripped: `a, b` is `["a", "b"]`.
    """

    TRUE = {"1", "true", "yes", "on"}
    FALSE = {"0", "false", "no", "off"}
    KINDS = {bool: "true or false", int: "a whole number", float: "a number"}

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default=False
    ) -> Any:
        value = str(self.ENVIRON.get(var, "")).strip()
        if not value:
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"{var} is not set (see .env.example).")
            if parse_default and isinstance(default, str):
                return self.parse_value(default, cast)
            return default
        try:
            return self.parse_value(value, cast)
        except ValueError:
            kind = self.KINDS.get(cast, "valid")
            raise ImproperlyConfigured(f"{var} must be {kind}, not {value!r}.") from None

    @classmethod
    def parse_value(cls, value: Any, cast: Any) -> Any:
        if cast is bool and isinstance(value, str):
            if value.lower() in cls.TRUE:
                return True
            if value.lower() in cls.FALSE:
                return False
            raise ValueError(value)
        if cast is list and isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return super().parse_value(value, cast)


env = Env()


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as "100/min", or None when set to "off"."""
    value = env.str(name, default).lower()
    if value in {"off", "none", "0"}:
        return None
    count, _, period = value.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name} must look like 100/min (or be off), not {value!r}.")
    return value


def env_secret(name: str, development_default: str) -> str:
    """A secret that must be set in production and has a throwaway value in development."""
    value = env.str(name, "")
    if value:
        return value
    if DEBUG:
        return development_default
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment or in .env (see .env.example), "
        "or set DEBUG=true to use the development default."
    )


def vapid_public_key(private_key: str, public_key: str) -> str:
    """The VAPID public key of `private_key` (base64url, the uncompressed P-256 point), which
    `public_key` must equal when it is given."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid, b64urlencode

    try:
        vapid = Vapid.from_string(private_key)
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "VAPID_PRIVATE_KEY is not a P-256 private key (base64url, as `manage.py "
            "generate_vapid_keys` prints it)."
        ) from error
    derived = b64urlencode(
        vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    if public_key and public_key.rstrip("=") != derived:
        raise ImproperlyConfigured(
            "VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY (leave it unset: it is "
            "derived)."
        )
    return derived


# The test suite sets READ_DOTENV=false, so a developer's own .env cannot change its results.
# Values already in the environment win over the file's.
if env.bool("READ_DOTENV", default=True):
    Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY", "django-insecure-development-only-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "core",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Refresh tokens issued here can be revoked (logout, password reset).
    "rest_framework_simplejwt.token_blacklist",
    "pgtrigger",
    "accounts",
    "tasks",
    "sync",
    "notifications",
    "agents",
]

MIDDLEWARE = [
    "core.middleware.RequestIDMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# Every API route answers with and without a trailing slash itself; never redirect a POST.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # `core` comes before drf_spectacular in INSTALLED_APPS, so its templates (the
        # offline ReDoc page) override that app's.
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_config(
    url: str,
    pool_mode: str,
    conn_max_age: int,
    connect_timeout: int,
    health_checks: bool,
    health_check_idle_seconds: float,
    statement_timeout: float = 0,
    idle_in_transaction_timeout: float = 0,
) -> dict:
    """Django's settings for the database at `url`.

    Options in the URL (`?sslmode=require`, ...) pass through to the driver. `pool_mode` is
    "transaction" when connecting through a pooler in transaction mode (PgBouncer, Neon's
    pooled endpoint): consecutive transactions may then run on different server connections,
    so neither server-side cursors nor prepared statements may outlive a transaction.
    PostgreSQL runs on `core.postgresql`, which checks a kept connection's health only
    when it has been idle for over `health_check_idle_seconds`, and ends a call the server
    leaves unanswered for `statement_timeout` plus 2 seconds.

    The server ends a statement after `statement_timeout` seconds and a session left idle
    inside a transaction after `idle_in_transaction_timeout` (0: no limit). They are sent as
    libpq `options` in session mode; a pooler in transaction mode refuses or ignores those
    (PgBouncer's `ignore_startup_parameters`), so there they are set on the database role
    instead (docs/deployment.md). TCP keepalives and `tcp_user_timeout` find a server that
    vanished from the network (a dead host, a dropped NAT entry) within about 30 seconds.
    """
    if pool_mode not in {"session", "transaction"}:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MODE must be session or transaction, not {pool_mode!r}."
        )
    config = env.db_url_config(url)
    config["CONN_MAX_AGE"] = conn_max_age
    config["CONN_HEALTH_CHECKS"] = health_checks
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "core.postgresql"
        config["HEALTH_CHECK_IDLE_SECONDS"] = health_check_idle_seconds
        options = config.setdefault("OPTIONS", {})
        # Bounds how long a request (and /readyz) waits for an unreachable database.
        options.setdefault("connect_timeout", connect_timeout)
        for name, value in [
            ("keepalives", 1),
            ("keepalives_idle", 10),
            ("keepalives_interval", 5),
            ("keepalives_count", 3),
            ("tcp_user_timeout", 30_000),
        ]:
            options.setdefault(name, value)
        timeouts = {
            "statement_timeout": statement_timeout,
            "idle_in_transaction_session_timeout": idle_in_transaction_timeout,
        }
        if pool_mode == "session" and any(timeouts.values()):
            server_options = " ".join(
                f"-c {name}={int(seconds * 1000)}" for name, seconds in timeouts.items() if seconds
            )
            options["options"] = f"{options.get('options', '')} {server_options}".strip()
        if statement_timeout:
            config["QUERY_DEADLINE_SECONDS"] = statement_timeout + 2
        if pool_mode == "transaction":
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
            options["prepare_threshold"] = None
    return config


DATABASE_POOL_MODE = env.str("DATABASE_POOL_MODE", "session").lower()
DATABASES = {
    "default": database_config(
        env.str("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        pool_mode=DATABASE_POOL_MODE,
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 600),
        connect_timeout=env.int("DATABASE_CONNECT_TIMEOUT", 5),
        # A `SELECT 1` before a request's first query on a kept connection that has sat idle,
        # so one that the server or a firewall dropped meanwhile is replaced instead of
        # failing that request. Busy connections skip it (core/postgresql/base.py).
        health_checks=env.bool("DATABASE_HEALTH_CHECKS", default=True),
        health_check_idle_seconds=env.float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", 1),
        # This API's statements take milliseconds (docs/performance.md); one past 5 s is a
        # runaway or a hung server. Long commands and migrations set 0 (no limit).
        statement_timeout=env.float("DATABASE_STATEMENT_TIMEOUT", default=5),
        idle_in_transaction_timeout=env.float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default=30),
    )
}

REDIS_URL = env.str("REDIS_URL", "")
CACHE_TTL_SECONDS = env.int("CACHE_TTL_SECONDS", 300)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": CACHE_TTL_SECONDS,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "todo"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A Redis outage must slow the service down, not break it.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_TIMEOUT_SECONDS", 0.25),
                "SOCKET_TIMEOUT": env.float("CACHE_TIMEOUT_SECONDS", 0.25),
                # After a failure, the cache is skipped for this long (core/cache.py).
                "RETRY_SECONDS": env.float("CACHE_RETRY_SECONDS", 5),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": CACHE_TTL_SECONDS,
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by WhiteNoise from STATIC_ROOT (filled by `collectstatic`), compressed. Not the
# manifest variant: it fails every page that names a static file until collectstatic has
# run, which would break tests and `runserver` with DEBUG off for no gain on an API.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Until `collectstatic` has filled STATIC_ROOT (the Docker image does it at build time), WhiteNoise
# serves the apps' own static folders, so the admin and the docs pages are styled under
# gunicorn in a plain checkout too, with no manual step.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()

# Bodies over 1 MiB are a 413 (core.middleware.RequestBodyLimitMiddleware).
REQUEST_BODY_MAX_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# Behind a TLS-terminating proxy, name the header it sets (X-Forwarded-Proto) so Django
# knows a request came in over HTTPS. Only set it when the proxy overwrites that header.
SECURE_PROXY_SSL_HEADER_NAME = env.str("SECURE_PROXY_SSL_HEADER", "")
if SECURE_PROXY_SSL_HEADER_NAME:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + SECURE_PROXY_SSL_HEADER_NAME.upper().replace("-", "_"),
        "https",
    )
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes come over plain HTTP from inside the host or container.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.ORJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.ORJSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Per-user limits on /api/{user_id}/..., counted in the shared cache so that every worker
    # sees the same count. "off" disables a limit.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttles.PerUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "tasks": env_rate("API_RATE_LIMIT", "1200/min"),
        "auth": env_rate("AUTH_THROTTLE_RATE", "10/min"),
        "admin_login": env_rate("ADMIN_LOGIN_RATE", "10/min"),
    },
    # Throttles key anonymous clients by address: trust only as many X-Forwarded-For hops
    # as there are proxies of our own in front, so a client cannot pick a fresh address.
    "NUM_PROXIES": env.int("NUM_PROXIES", 0),
}

# Two ways to accept Better Auth's tokens, on together or alone (docs/better-auth.md):
# HS256 signed with the shared BETTER_AUTH_SECRET, and the jwt() plugin's asymmetric tokens,
# verified with the keys published at BETTER_AUTH_JWKS_URL.
BETTER_AUTH_URL = env.str("BETTER_AUTH_URL", "").rstrip("/")
BETTER_AUTH_JWKS_URL = env.str("BETTER_AUTH_JWKS_URL", "") or (
    f"{BETTER_AUTH_URL}/api/auth/jwks" if BETTER_AUTH_URL else ""
)
if BETTER_AUTH_JWKS_URL and not BETTER_AUTH_JWKS_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        f"BETTER_AUTH_JWKS_URL must be an http(s) URL, not {BETTER_AUTH_JWKS_URL!r}."
    )
BETTER_AUTH_SECRET = env.str("BETTER_AUTH_SECRET", "")
if not BETTER_AUTH_SECRET and not BETTER_AUTH_JWKS_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "No way to verify tokens: set BETTER_AUTH_SECRET (HS256 tokens), or "
            "BETTER_AUTH_JWKS_URL or BETTER_AUTH_URL (tokens of Better Auth's jwt() plugin), "
            "or both (see .env.example); or set DEBUG=true to use a development secret."
        )
    BETTER_AUTH_SECRET = "development-only-better-auth-secret"

# Asymmetric algorithms a JWKS token may use; HS256 is governed by BETTER_AUTH_SECRET alone.
SUPPORTED_JWKS_ALGORITHMS = {"EdDSA", "ES256", "ES384", "ES512"} | {
    f"{family}{bits}" for family in ("RS", "PS") for bits in (256, 384, 512)
}
# Local accounts: register and sign in here, for deployments without Better Auth.
# Their tokens are HS256 with the shared secret, so they need one.
LOCAL_AUTH_ENABLED = env.bool("LOCAL_AUTH_ENABLED", default=bool(BETTER_AUTH_SECRET))
if LOCAL_AUTH_ENABLED and not BETTER_AUTH_SECRET:
    raise ImproperlyConfigured(
        "LOCAL_AUTH_ENABLED needs BETTER_AUTH_SECRET: the tokens it issues are signed with it."
    )

# On: a new local account gets tokens only once it followed the link mailed to its address
# (register answers 202 instead of 201 with tokens). Off by default, as the contract's
# register answers; turn it on for a public deployment (docs/security.md).
LOCAL_AUTH_EMAIL_VERIFICATION = env.bool("LOCAL_AUTH_EMAIL_VERIFICATION", default=False)
# The frontend's pages that take the mailed links: `?uid=…&token=…` is appended.
LOCAL_AUTH_VERIFY_EMAIL_URL = env.str("LOCAL_AUTH_VERIFY_EMAIL_URL", "") or (
    "http://localhost:3000/verify-email" if DEBUG else ""
)
LOCAL_AUTH_PASSWORD_RESET_URL = env.str("LOCAL_AUTH_PASSWORD_RESET_URL", "") or (
    "http://localhost:3000/reset-password" if DEBUG else ""
)
# Mail: printed to the console in development; SMTP (EMAIL_HOST, ...) otherwise.
EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_BACKEND_NAME = (env.str("EMAIL_BACKEND", "") or ("console" if DEBUG else "smtp")).lower()
if EMAIL_BACKEND_NAME not in EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND must be smtp or console, not {EMAIL_BACKEND_NAME!r}."
    )
EMAIL_BACKEND = EMAIL_BACKENDS[EMAIL_BACKEND_NAME]
EMAIL_HOST = env.str("EMAIL_HOST", "") or "localhost"
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "") or "todo@localhost"
# Mailed links (verification, password reset) work for this long, and once.
PASSWORD_RESET_TIMEOUT = env.int("LOCAL_AUTH_LINK_TTL", default=24 * 3600)

JWT_ALGORITHMS = env.list("JWT_ALGORITHMS", default=["EdDSA", "ES256", "ES512", "RS256", "PS256"])

if unsupported := sorted(set(JWT_ALGORITHMS) - SUPPORTED_JWKS_ALGORITHMS):
    raise ImproperlyConfigured(
        f"JWT_ALGORITHMS may only name {', '.join(sorted(SUPPORTED_JWKS_ALGORITHMS))}; "
        f"not {', '.join(unsupported)}."
    )
JWKS_CACHE_TTL_SECONDS = env.int("JWKS_CACHE_TTL_SECONDS", 300)
# Bounds how long a request can wait for the JWKS endpoint, so a slow one never hangs workers.
JWKS_FETCH_TIMEOUT_SECONDS = env.float("JWKS_FETCH_TIMEOUT_SECONDS", 3)
if not 1 <= JWKS_FETCH_TIMEOUT_SECONDS <= 10:
    raise ImproperlyConfigured("JWKS_FETCH_TIMEOUT_SECONDS must be between 1 and 10.")

SIMPLE_JWT = {
    # Better Auth signs HS256 tokens with the raw UTF-8 bytes of its secret; the JWKS
    # algorithms are chosen per token by accounts.tokens.BetterAuthTokenBackend.
    "ALGORITHM": "HS256",
    "SIGNING_KEY": BETTER_AUTH_SECRET,
    "AUDIENCE": env.str("JWT_AUDIENCE", "") or None,
    "ISSUER": env.str("JWT_ISSUER", "") or None,
    "LEEWAY": env.int("JWT_LEEWAY_SECONDS", 30),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    # Tokens issued here carry both, so a refresh token is never taken for an access token;
    # Better Auth's carry neither, and BearerAccessToken does not require them.
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "AUTH_TOKEN_CLASSES": ("accounts.authentication.BearerAccessToken",),
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TTL", 900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TTL", 7 * 24 * 3600)),
}

# In development, a frontend on either name of this machine (Next.js prints both).
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ALLOWED_ORIGINS",
    default=["http://localhost:3000", "http://127.0.0.1:3000"] if DEBUG else [],
)
CORS_URLS_REGEX = r"^/api/.*$"
# What a browser frontend may read: paging, conditional requests, the 429/503 back-off and
# the idempotent-replay marker the docs tell clients to look at.
CORS_EXPOSE_HEADERS = [
    "ETag",
    "Link",
    "X-Total-Count",
    "Location",
    "X-Request-ID",
    "Retry-After",
    "Idempotent-Replayed",
]
CORS_ALLOW_HEADERS = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
    # An EventSource reconnecting to a live stream sends the last event id it saw.
    "last-event-id",
]

SPECTACULAR_SETTINGS = {
    "TITLE": "Todo API",
    "DESCRIPTION": (
        "Each signed-in user's tasks, at `/api/{user_id}/tasks`. Send the JWT from Better Auth "
        "(or from `/api/auth/token`) as `Authorization: Bearer <token>`; `{user_id}` is its "
        "`sub`. Every route also answers with a trailing slash. Errors are "
        '`{"detail": "..."}`; validation errors (400) add `"errors": {"field": ["..."]}`. '
        "A 503 with `Retry-After` means the database was out of reach for a moment: retry."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is public; a stale token that Swagger UI still sends must not make it a 401.
    "SERVE_AUTHENTICATION": [],
    # The docs pages load their assets from this app, so they work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["core.openapi.strip_optional_trailing_slash"],
    "ENUM_NAME_OVERRIDES": {"CheckResultEnum": "core.health.CHECK_RESULTS"},
    "TAGS": [
        {"name": "tasks", "description": "The signed-in user's tasks."},
        {"name": "health", "description": "Probes for load balancers and orchestrators."},
        {
            "name": "webhooks",
            "description": "Signed POSTs of your changes and reminders to your own URLs.",
        },
        {"name": "push", "description": "Web Push: reminders sent to the user's browsers."},
    ],
}

# The change feed keeps deletions (and every change) this long; older cursors are a 410.
CHANGES_RETENTION_DAYS = env.int("CHANGES_RETENTION_DAYS", 30)

# Webhook URLs and Web Push endpoints must be https and resolve to public addresses
# (core/outbound.py); true lifts both rules, for development and tests only.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
# Seconds between a webhook delivery's failed attempt and the next (Standard Webhooks'
# schedule by default); after the last one it is given up.
webhook_retry_delays = env.list(
    "WEBHOOK_RETRY_DELAYS", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
)
if not all(delay.isdigit() for delay in webhook_retry_delays):
    raise ImproperlyConfigured(
        "WEBHOOK_RETRY_DELAYS must be whole numbers of seconds separated by commas, "
        f"not {','.join(webhook_retry_delays)!r}."
    )
WEBHOOK_RETRY_DELAYS = [int(delay) for delay in webhook_retry_delays]

# Web Push (docs/push.md): the VAPID key pair that signs every push (RFC 8292), base64url as
# `manage.py generate_vapid_keys` prints it. Unset with DEBUG off, push is off: the public-key
# route and new subscriptions answer 503, and gunicorn says so at start. With DEBUG, a
# development pair (anyone can read it: never use it for real subscriptions).
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", "") or (
    "DLPPjnYp0IQAhZozNjJYTXfgRyrn-7939aDnpzcyTmY" if DEBUG else ""
)
VAPID_PUBLIC_KEY = ""
if VAPID_PRIVATE_KEY:
    VAPID_PUBLIC_KEY = vapid_public_key(VAPID_PRIVATE_KEY, env.str("VAPID_PUBLIC_KEY", ""))
# Who push services contact about this sender: mailto: or https: (required with the keys).
VAPID_SUBJECT = env.str("VAPID_SUBJECT", "") or ("mailto:admin@localhost" if DEBUG else "")
if VAPID_PRIVATE_KEY and not VAPID_SUBJECT.startswith(("mailto:", "https:")):
    raise ImproperlyConfigured(
        "VAPID_SUBJECT must be a mailto: or https: address of the operator (push services "
        f"contact it), not {VAPID_SUBJECT!r}; it is required when VAPID_PRIVATE_KEY is set."
    )

# Celery (config/celery.py): the broker is Redis by default (RabbitMQ works: amqp://…). With
# neither, a folder on disk stands in (development only: it is one machine's).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_FOLDER = env.path("CELERY_BROKER_FOLDER", default=BASE_DIR / ".celery")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        # The transport's broadcast bindings (it would make ./control in the working directory).
        "control_folder": str(Path(str(CELERY_BROKER_FOLDER)) / "control"),
    }
else:
    # A task a killed worker had taken goes back to the queue after this long (Redis; with
    # acks_late, unacknowledged work is redelivered rather than lost).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
    }
# Nobody waits for a task's return value: what a task did is in the database.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", "") or None
# A task is acknowledged when it has run, so a worker that dies mid-task loses nothing; every
# task is therefore written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=50)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat's record of when each schedule last ran (its working directory is not always writable).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".celery-beat-schedule")
)
# How often beat starts the firing of due reminders (notifications/tasks.py): a reminder
# fires at most about this long after its fire_at, with a worker running.
REMINDERS_FIRE_EVERY_SECONDS = env.float("REMINDERS_FIRE_EVERY_SECONDS", default=2.0)
CELERY_BEAT_SCHEDULE: dict = {
    # Sends the webhook deliveries that are due: retries, and any whose task was lost.
    "send-due-webhooks": {"task": "notifications.sweep_webhooks", "schedule": 5.0},
    "fire-due-reminders": {
        "task": "notifications.fire_due_reminders",
        "schedule": REMINDERS_FIRE_EVERY_SECONDS,
        # A run still queued when later ones are due is of no use (they claim the same), so a
        # backlog, e.g. while no worker ran, does not pile up.
        "options": {"expires": max(REMINDERS_FIRE_EVERY_SECONDS * 2, 10.0)},
    },
    "purge-fired-reminders": {
        "task": "sync.purge_fired_reminders",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Pushes whose task was lost (a worker died mid-send, the broker was down at commit).
    "sweep-push-messages": {"task": "notifications.sweep_push_messages", "schedule": 60.0},
}

LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()
# "json": one JSON object per line (core.logging.JsonFormatter); "plain" for people.
LOG_FORMAT = env.str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.middleware.RequestIDLogFilter"}},
    "formatters": {
        "plain": {
            "()": "core.logging.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request middleware logs every request once; Django's own request logger
        # is kept for what it alone knows: the traceback of an unhandled exception.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # The MCP SDK logs each /mcp request's session manager starting and stopping at INFO
        # (a stateless one per request, agents/http.py); the access log already has the line.
        "mcp": {"level": "WARNING"},
    },
}
