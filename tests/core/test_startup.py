"""A configuration mistake stops manage.py and gunicorn with one line naming it, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "READ_DOTENV": "false", **env}
    for name, value in env.items():
        if value is None:
            environment.pop(name)
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], **env)


def assert_one_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr


def test_a_missing_secret_key_is_one_line_naming_it():
    result = manage("check_auth", DEBUG="false", SECRET_KEY=None)

    assert_one_line(result, "error: SECRET_KEY is not set", "DEBUG=true")


def test_a_value_that_does_not_parse_is_one_line_naming_it():
    result = manage("check", DEBUG="maybe")

    assert_one_line(result, "error: DEBUG must be true or false, not 'maybe'.")


def test_a_database_that_cannot_be_opened_is_one_line_naming_it():
    result = manage("migrate", DATABASE_URL="sqlite:////nonexistent-folder/db.sqlite3")

    assert_one_line(result, "cannot open the SQLite database /nonexistent-folder/db.sqlite3")


def test_a_database_server_that_does_not_answer_is_one_line_naming_it():
    result = manage("migrate", DATABASE_URL="postgresql://postgres@127.0.0.1:1/todo")

    assert_one_line(
        result, "cannot connect to the database in DATABASE_URL (127.0.0.1:1/todo)", "start"
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL")
def test_a_missing_postgresql_database_is_one_line_saying_how_to_create_it():
    config = connection.settings_dict
    url = f"postgresql://{config['USER']}@{config['HOST']}:{config['PORT']}/no_such_database_x"

    result = manage("migrate", DATABASE_URL=url)

    assert_one_line(result, 'database "no_such_database_x" does not exist', "createdb -h")


def test_other_command_errors_keep_their_own_message(tmp_path):
    result = manage("migrate", "no_such_app", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")

    assert result.returncode == 1
    assert "No installed app with label 'no_such_app'" in result.stderr


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this venv")
def test_gunicorn_stops_on_a_bad_setting_before_starting_workers():
    result = run(
        [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        DEBUG="false",
        SECRET_KEY=None,
        GUNICORN_BIND="127.0.0.1:0",
    )

    assert_one_line(result, "error: SECRET_KEY is not set")


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this venv")
def test_gunicorn_stops_when_the_database_does_not_answer():
    result = run(
        [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/todo",
        GUNICORN_BIND="127.0.0.1:0",
    )

    assert result.returncode == 2
    assert "error: cannot connect to the database in DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this venv")
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_THREADS", "four", "GUNICORN_THREADS must be a whole number, not 'four'."),
        ("GUNICORN_REUSE_PORT", "maybe", "GUNICORN_REUSE_PORT must be true or false, not 'maybe'."),
    ],
)
def test_gunicorn_stops_on_a_bad_value_of_its_own_naming_it(name, value, message):
    result = run(
        [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        GUNICORN_BIND="127.0.0.1:0",
        **{name: value},
    )

    assert_one_line(result, f"error: {message}")
