"""Production settings: `check --deploy` is clean; database URLs and pool modes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import get_random_string

from config.settings import database_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Values pytest-env sets for the test run, which a production process would not have.
TEST_ONLY_VARIABLES = {"SECURE_SSL_REDIRECT", "ALLOWED_HOSTS", "CORS_ALLOWED_ORIGINS"}


def test_check_deploy_is_clean_with_only_the_secrets_set():
    environment = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    environment.update(DEBUG="false", SECRET_KEY=get_random_string(64), BETTER_AUTH_SECRET="x" * 32)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_sslmode_and_other_url_options_reach_the_driver():
    config = database_config(
        "postgresql://app:pw@db.example.com:5432/todo?sslmode=require&application_name=todo",
        pool_mode="session",
        conn_max_age=600,
        connect_timeout=5,
        health_checks=True,
        health_check_idle_seconds=1,
    )

    assert config["HOST"] == "db.example.com"
    assert config["CONN_MAX_AGE"] == 600 and config["CONN_HEALTH_CHECKS"] is True
    assert config["ENGINE"] == "core.postgresql" and config["HEALTH_CHECK_IDLE_SECONDS"] == 1
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["application_name"] == "todo"
    assert config["OPTIONS"]["connect_timeout"] == 5
    assert not config.get("DISABLE_SERVER_SIDE_CURSORS")
    assert "prepare_threshold" not in config["OPTIONS"]


def test_transaction_pooling_disables_server_side_cursors_and_prepared_statements():
    config = database_config(
        "postgresql://app:pw@pooler.example.com/todo?sslmode=require",
        pool_mode="transaction",
        conn_max_age=600,
        connect_timeout=5,
        health_checks=False,
        health_check_idle_seconds=1,
    )

    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"]["prepare_threshold"] is None
    assert config["CONN_HEALTH_CHECKS"] is False
    assert config["OPTIONS"]["sslmode"] == "require"


def test_a_connect_timeout_in_the_url_wins():
    config = database_config(
        "postgresql://app@db/todo?connect_timeout=2",
        "session",
        conn_max_age=0,
        connect_timeout=5,
        health_checks=True,
        health_check_idle_seconds=1,
    )

    assert str(config["OPTIONS"]["connect_timeout"]) == "2"


def test_an_unknown_pool_mode_is_refused():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL_MODE"):
        database_config(
            "postgresql://app@db/todo",
            "statement",
            conn_max_age=0,
            connect_timeout=5,
            health_checks=True,
            health_check_idle_seconds=1,
        )


def test_hsts_is_sent_on_https_responses(client):
    response = client.get("/healthz", secure=True)

    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    ("value", "rate"), [("50/s", "50/s"), ("1200/min", "1200/min"), ("off", None)]
)
def test_rate_limits_are_read_from_the_environment(load_settings, value, rate):
    settings = load_settings(BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="k", API_RATE_LIMIT=value)

    assert settings["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]["tasks"] == rate


@pytest.mark.parametrize("value", ["lots", "10", "10/fortnight", "/min"])
def test_a_malformed_rate_limit_stops_start_up_naming_it(load_settings, value):
    with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
        load_settings(BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="k", API_RATE_LIMIT=value)


def test_an_unknown_log_format_stops_start_up_naming_it(load_settings):
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        load_settings(BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="k", LOG_FORMAT="xml")


def test_database_health_checks_can_be_turned_off(load_settings):
    settings = load_settings(
        BETTER_AUTH_SECRET="s" * 32,
        SECRET_KEY="k",
        DATABASE_URL="postgresql://app@db/todo",
        DATABASE_HEALTH_CHECKS="false",
    )

    assert settings["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is False


def test_the_idle_time_before_a_health_check_is_read_from_the_environment(load_settings):
    settings = load_settings(
        BETTER_AUTH_SECRET="s" * 32,
        SECRET_KEY="k",
        DATABASE_URL="postgresql://app@db/todo",
        DATABASE_HEALTH_CHECK_IDLE_SECONDS="0",
    )

    assert settings["DATABASES"]["default"]["HEALTH_CHECK_IDLE_SECONDS"] == 0


def test_a_missing_secret_key_stops_start_up_naming_it(load_settings, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings(BETTER_AUTH_SECRET="s" * 32)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEBUG", "ture", "DEBUG must be true or false, not 'ture'."),
        ("DATABASE_CONN_MAX_AGE", "ten", "DATABASE_CONN_MAX_AGE must be a whole number"),
        ("DATABASE_HEALTH_CHECK_IDLE_SECONDS", "soon", "_IDLE_SECONDS must be a number"),
    ],
)
def test_a_value_that_does_not_parse_stops_start_up_naming_it(load_settings, name, value, expected):
    with pytest.raises(ImproperlyConfigured, match=re.escape(expected)):
        load_settings(BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="k", **{name: value})


def test_empty_values_mean_the_default_as_env_example_leaves_them(load_settings):
    settings = load_settings(
        BETTER_AUTH_SECRET="s" * 32,
        SECRET_KEY="k",
        SECURE_SSL_REDIRECT="",
        DATABASE_CONN_MAX_AGE=" ",
        ALLOWED_HOSTS="",
    )

    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["DATABASES"]["default"]["CONN_MAX_AGE"] == 600
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


def test_lists_are_comma_separated_with_spaces_allowed(load_settings):
    settings = load_settings(
        BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="k", ALLOWED_HOSTS=" api.example.com , , x.test"
    )

    assert settings["ALLOWED_HOSTS"] == ["api.example.com", "x.test"]


def test_a_secret_starting_with_a_dollar_is_taken_as_it_is(load_settings):
    settings = load_settings(BETTER_AUTH_SECRET="s" * 32, SECRET_KEY="$HOME-not-a-reference")

    assert settings["SECRET_KEY"] == "$HOME-not-a-reference"


def test_debug_allows_a_local_frontend_under_both_names(load_settings, monkeypatch):
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)

    settings = load_settings(DEBUG="true")

    assert settings["CORS_ALLOWED_ORIGINS"] == ["http://localhost:3000", "http://127.0.0.1:3000"]


def test_env_example_copied_as_it_is_is_a_working_development_setup(load_settings, monkeypatch):
    values = {}
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    for name in TEST_ONLY_VARIABLES | {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}:
        monkeypatch.delenv(name, raising=False)

    settings = load_settings(**values)

    assert settings["DEBUG"] is True and settings["SECURE_SSL_REDIRECT"] is False
    assert settings["SECRET_KEY"] and settings["BETTER_AUTH_SECRET"]
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"


def timeouts_config(pool_mode: str, url: str = "postgresql://app@db/todo") -> dict:
    return database_config(
        url,
        pool_mode,
        conn_max_age=600,
        connect_timeout=5,
        health_checks=True,
        health_check_idle_seconds=1,
        statement_timeout=5,
        idle_in_transaction_timeout=30,
    )


def test_session_mode_sends_the_server_timeouts_as_libpq_options():
    config = timeouts_config("session")

    assert config["OPTIONS"]["options"] == (
        "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=30000"
    )
    assert config["QUERY_DEADLINE_SECONDS"] == 7
    assert config["OPTIONS"]["keepalives"] == 1
    assert config["OPTIONS"]["tcp_user_timeout"] == 30_000


def test_transaction_mode_leaves_them_to_the_role_but_keeps_the_apps_deadline():
    """A transaction pooler refuses (or drops) libpq startup options."""
    config = timeouts_config("transaction")

    assert "options" not in config["OPTIONS"]
    assert config["QUERY_DEADLINE_SECONDS"] == 7
    assert config["OPTIONS"]["keepalives"] == 1


def test_options_already_in_the_url_are_kept():
    config = timeouts_config("session", "postgresql://app@db/todo?options=-c%20search_path%3Dapp")

    assert config["OPTIONS"]["options"].startswith("-c search_path=app -c statement_timeout=5000")


def test_no_statement_timeout_means_no_deadline_either():
    config = database_config(
        "postgresql://app@db/todo",
        "session",
        conn_max_age=0,
        connect_timeout=5,
        health_checks=True,
        health_check_idle_seconds=1,
    )

    assert "options" not in config["OPTIONS"] and "QUERY_DEADLINE_SECONDS" not in config
