"""core.postgresql: a kept connection's health is checked only after it sat idle."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.http import HttpResponse

from core.postgresql import base
from tests.conftest import requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

# The wrapper itself, not django.db.connection's proxy, so that monkeypatch can restore it.
connection = connections["default"]

# Behind a pooler in transaction mode, the server process belongs to the pooler: ending it
# drops the pooler's link, not this connection (and may hit the test's own admin connection).
direct_connection_only = pytest.mark.skipif(
    settings.DATABASE_POOL_MODE == "transaction",
    reason="ends the server process behind the connection: needs a direct connection",
)


class Clock:
    """time.monotonic, moved on only by the test (from the real reading, so that Django's
    CONN_MAX_AGE deadline, set by the real clock, keeps its meaning)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(base.time, "monotonic", clock)
    return clock


@pytest.fixture
def health_checks(monkeypatch) -> list[bool]:
    """Health checks on, as in production; each check's result, in order."""
    connection.ensure_connection()
    monkeypatch.setattr(connection, "health_check_enabled", True)
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_IDLE_SECONDS", 1)
    monkeypatch.setattr(connection, "last_used_at", float("-inf"))
    results: list[bool] = []
    real_is_usable = connection.is_usable

    def recording_is_usable() -> bool:
        results.append(real_is_usable())
        return results[-1]

    monkeypatch.setattr(connection, "is_usable", recording_is_usable)
    return results


def serve_a_request() -> int:
    """What Django does around a request that queries once; returns the server's pid."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    connection.close_if_unusable_or_obsolete()
    return backend_pid


def serve_a_request_without_queries() -> None:
    """A request that never touches the database (a 401, /healthz, a preflight)."""
    connection.close_if_unusable_or_obsolete()
    connection.close_if_unusable_or_obsolete()


def test_a_connection_in_steady_use_is_not_checked(clock, health_checks):
    serve_a_request()
    for _ in range(3):
        clock.now += 0.5
        serve_a_request()

    assert health_checks == [True]


def test_a_connection_idle_for_longer_is_checked_first(clock, health_checks):
    serve_a_request()
    clock.now += 1.5

    serve_a_request()

    assert health_checks == [True, True]


def test_requests_that_run_no_query_do_not_keep_a_connection_fresh(clock, health_checks):
    serve_a_request()
    for _ in range(4):
        clock.now += 0.5
        serve_a_request_without_queries()

    serve_a_request()

    assert health_checks == [True, True]


@direct_connection_only
def test_a_connection_the_server_dropped_while_idle_is_replaced(clock, health_checks):
    dropped_pid = serve_a_request()
    with psycopg.connect(**connection.get_connection_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dropped_pid])
    clock.now += 1.5

    new_pid = serve_a_request()

    assert health_checks[-1] is False
    assert new_pid != dropped_pid


@direct_connection_only
def test_a_connection_dropped_while_busy_fails_one_request_with_503_then_is_replaced(
    clock, health_checks, owner_client, user
):
    def request() -> HttpResponse:
        connection.close_if_unusable_or_obsolete()  # as Django does when a request starts
        response = owner_client.get(f"/api/{user.id}/tasks")
        connection.close_if_unusable_or_obsolete()  # and when it finishes
        return response

    assert request().status_code == 200
    dropped_pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dropped_pid])
    clock.now += 0.5

    failed = request()
    recovered = request()

    assert failed.status_code == 503
    assert failed["Retry-After"] == "1"
    assert failed.json() == {"detail": "The database is unavailable for a moment; retry shortly."}
    assert recovered.status_code == 200
    assert connection.connection.info.backend_pid != dropped_pid
