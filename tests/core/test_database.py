"""core.postgresql: a kept connection's health is checked only after it sat idle."""

import os
import signal
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.http import HttpResponse

from core.postgresql import base
from core.postgresql.base import watchdog
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


@pytest.fixture
def frozen_server(monkeypatch) -> Iterator[Callable[[], None]]:
    """`freeze()`: SIGSTOP the server process behind this test's connection, as a frozen
    host would be (it keeps the TCP connection open and answers nothing). It is let go
    again, and this process's 'unavailable' window closed, when the test ends."""
    monkeypatch.setitem(connection.settings_dict, "QUERY_DEADLINE_SECONDS", 1)
    connection.ensure_connection()
    backend_pid = connection.connection.info.backend_pid
    stopped = []

    def freeze() -> None:
        try:
            os.kill(backend_pid, signal.SIGSTOP)
        except (PermissionError, ProcessLookupError):
            pytest.skip("the PostgreSQL server's processes are not on this machine, or not ours")
        stopped.append(backend_pid)

    yield freeze
    for pid in stopped:
        os.kill(pid, signal.SIGCONT)
    watchdog.unavailable_until, watchdog.tripped = 0.0, False
    connection.close()


def timed(request: Callable[[], HttpResponse]) -> tuple[HttpResponse, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


@direct_connection_only
def test_a_query_the_frozen_server_never_answers_is_a_503_within_the_deadline(
    frozen_server, owner_client, user
):
    assert owner_client.get(f"/api/{user.id}/tasks").status_code == 200
    frozen_server()

    failed, took = timed(lambda: owner_client.get(f"/api/{user.id}/tasks"))
    again, again_took = timed(lambda: owner_client.get(f"/api/{user.id}/tasks"))

    assert failed.status_code == 503
    assert failed["Retry-After"] == "1"
    assert took < 3
    assert again.status_code == 503  # for a few seconds, without waiting again
    assert again_took < 0.5


@direct_connection_only
def test_readiness_is_a_503_within_its_bound_while_liveness_answers(frozen_server, client):
    assert client.get("/readyz").status_code == 200
    frozen_server()
    # The request's own deadline is longer: readiness uses a shorter one.
    connection.settings_dict["QUERY_DEADLINE_SECONDS"] = 30

    ready, took = timed(lambda: client.get("/readyz"))
    alive = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "failed"
    assert took < 4
    assert alive.status_code == 200


@direct_connection_only
def test_once_the_server_answers_again_so_does_the_api(frozen_server, owner_client, user):
    frozen_server()
    assert owner_client.get(f"/api/{user.id}/tasks").status_code == 503
    for pid in [connection.connection.info.backend_pid]:
        os.kill(pid, signal.SIGCONT)
    watchdog.unavailable_until = 0.0  # as when the few seconds have passed

    connection.close_if_unusable_or_obsolete()  # as Django does between requests
    recovered = owner_client.get(f"/api/{user.id}/tasks")

    assert recovered.status_code == 200
    assert not watchdog.tripped


def test_server_side_timeouts_are_set_on_each_session():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        idle = cursor.fetchone()[0]

    if settings.DATABASE_POOL_MODE == "transaction":
        pytest.skip("behind a transaction pooler they are the role's settings")
    assert (statement, idle) == ("5s", "30s")
