"""Start-up checks for manage.py and gunicorn: a configuration mistake costs one line.

A missing secret, a value that does not parse, or a database that cannot be reached stops the
process with one line on stderr naming the variable and what to do, and exit status 2;
a traceback would bury that line under thirty others (and, from manage.py, under a
misleading first one: Django cannot list the commands of apps it could not load).
"""

import os
import sys
from typing import NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError

EXIT_STATUS = 2


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_STATUS)


def load_settings_or_exit() -> None:
    """Import config/settings.py (it reads .env and checks every variable), or stop."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - the first access imports the settings module
    except ImproperlyConfigured as exc:
        fail(str(exc))


def database_error_message(exc: Exception) -> str:
    """One line for a database that cannot be reached, saying which one and what to do."""
    from django.db import connection

    config = connection.settings_dict
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if config["ENGINE"].endswith("sqlite3"):
        return f"cannot open the SQLite database {config['NAME']}: {reason}; fix DATABASE_URL."
    host, port = config.get("HOST") or "localhost", config.get("PORT") or "5432"
    user, name = config.get("USER") or "postgres", config["NAME"]
    if f'database "{name}" does not exist' in reason:
        return (
            f'database "{name}" does not exist on {host}:{port}: create it with '
            f"`createdb -h {host} -p {port} -U {user} {name}`, or fix DATABASE_URL."
        )
    return (
        f"cannot connect to the database in DATABASE_URL ({host}:{port}/{name}): {reason}; "
        "start PostgreSQL or fix DATABASE_URL."
    )


def database_unreachable() -> Exception | None:
    """The error connecting to the default database raises, or None when it connects."""
    from django.db import connections

    try:
        connections["default"].ensure_connection()
    except OperationalError as exc:
        return exc
    finally:
        connections.close_all()
    return None


def check_database_or_exit() -> None:
    """Connect to the database once, or stop: gunicorn calls this before starting workers."""
    if error := database_unreachable():
        fail(database_error_message(error))


def run_management_command(argv: list[str]) -> None:
    """manage.py: run the command; a database that cannot be reached is one line.

    Only connection failures are shortened: when the database still answers after the
    command failed, the error was something else and keeps its traceback.
    """
    load_settings_or_exit()
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except OperationalError as exc:
        if database_unreachable() is None:
            raise
        fail(database_error_message(exc))
